"""The bundled provider catalogue: coverage, consistency and documented examples."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sovmap.knowledge import default_catalogue
from sovmap.knowledge.catalogue import Catalogue, Match

# Every provider that issue 2 names must exist (ids of the bundled files).
REQUIRED = [
    "microsoft",
    "google",
    "amazon",
    "cloudflare",
    "akamai",
    "fastly",
    "oracle",
    "salesforce",
    "zoom",
    "atlassian",
    "apple",
    "zoho",
    "proofpoint",
    "mimecast",
    "barracuda",
    "cisco",
    "trend-micro",
    "sophos",
    "hornetsecurity",
    "seppmail",
    "retarus",
    "libraesva",
    "fortinet",
    "broadcom",
    "mailchimp",
    "sendgrid",
    "mailjet",
    "mailgun",
    "brevo",
    "flowmailer",
    "ovhcloud",
    "hetzner",
    "ionos",
    "scaleway",
    "infomaniak",
    "strato",
    "gandi",
    "transip",
    "leaseweb",
    "proton",
    "tuta",
    "rijksoverheid",
    "kpn",
    "hostnet",
    "antagonist",
    "versio",
    "vimexx",
    "mijndomein",
]

# (kind, observed value, probe, expected provider): one documented example per provider at
# least. Values are what a scan sees: MX host, SPF include target, DKIM CNAME target or
# selector name, rua domain, CNAME target, NS host, TXT record, AS number.
EXAMPLES: list[tuple[str, str, str, str]] = [
    ("mx", "gemeente-nl.mail.protection.outlook.com", "mx", "microsoft"),
    ("mx", "aalborg-dk.r-v1.mx.microsoft", "mx", "microsoft"),
    ("mx", "aspmx.l.google.com", "mx", "google"),
    ("mx", "mx.mymailwall.com", "mx", "ikarus"),
    ("mx", "mx1.net4you.net", "mx", "net4you"),
    ("mx", "fimx1.d-fence.eu", "mx", "d-fence"),
    ("mx", "mx1.mymailwall.at", "mx", "ikarus"),
    ("txt", "MS=4C2A9E1F7B3D5A6C8E0F1A2B3C4D5E6F7A8B9C0D", "txt", "microsoft"),
    ("mx", "ms73889594.msv1.invalid", "mx", "microsoft"),
    ("mx", "alt1.aspmx.l.google.com", "mx", "google"),
    ("mx", "aspmx2.googlemail.com", "mx", "google"),
    ("mx", "smtp.google.com", "mx", "google"),
    ("dkim", "google._domainkey.example.org", "dkim", "google"),
    ("ns", "ns-cloud-b2.googledomains.com", "ns", "google"),
    ("spf", "amazonses.com", "spf", "amazon"),
    ("dkim", "abcdefgh12345678.dkim.amazonses.com", "dkim", "amazon"),
    ("mx", "inbound-smtp.eu-west-1.amazonaws.com", "mx", "amazon"),
    ("ns", "ns-1234.awsdns-56.org", "ns", "amazon"),
    ("cname", "d111111abcdef8.cloudfront.net", "web", "amazon"),
    ("ns", "kate.ns.cloudflare.com", "ns", "cloudflare"),
    ("cname", "www.example.org.cdn.cloudflare.net", "web", "cloudflare"),
    ("mx", "route2.mx.cloudflare.net", "mx", "cloudflare"),
    ("cname", "e1234.a.akamaiedge.net", "web", "akamai"),
    ("cname", "www.example.org.edgekey.net", "web", "akamai"),
    ("ns", "a1-64.akam.net", "ns", "akamai"),
    ("cname", "dualstack.j.sni.global.fastly.net", "web", "fastly"),
    ("spf", "spf_c.oracleemaildelivery.com", "spf", "oracle"),
    ("ns", "ns1.p01.dynect.net", "ns", "oracle"),
    ("spf", "_spf.salesforce.com", "spf", "salesforce"),
    ("cname", "example-1234.herokudns.com", "web", "salesforce"),
    ("txt", "ZOOM_verify_AbCdEf123", "txt", "zoom"),
    ("txt", "atlassian-domain-verification=abc123", "txt", "atlassian"),
    ("spf", "_spf.atlassian.net", "spf", "atlassian"),
    ("mx", "mx01.mail.icloud.com", "mx", "apple"),
    ("txt", "apple-domain-verification=AbC123", "txt", "apple"),
    ("mx", "mx.zoho.eu", "mx", "zoho"),
    ("mx", "mx2.zoho.com", "mx", "zoho"),
    ("spf", "zohomail.eu", "spf", "zoho"),
    ("mx", "mx0a-001b2d01.pphosted.com", "mx", "proofpoint"),
    ("mx", "mx1-eu1.ppe-hosted.com", "mx", "proofpoint"),
    ("mx", "eu-smtp-inbound-1.mimecast.com", "mx", "mimecast"),
    ("mx", "d123456a.ess.de.barracudanetworks.com", "mx", "barracuda"),
    ("mx", "mx1.eu.iphmx.com", "mx", "cisco"),
    ("mx", "example-org.in.tmes.trendmicro.eu", "mx", "trend-micro"),
    ("mx", "mx-01-eu-central-1.prod.hydra.sophos.com", "mx", "sophos"),
    ("mx", "mx01.hornetsecurity.com", "mx", "hornetsecurity"),
    ("mx", "mx-gate.antispameurope.com", "mx", "hornetsecurity"),
    ("mx", "customer.gate.seppmail.cloud", "mx", "seppmail"),
    ("mx", "mx01.retarus.com", "mx", "retarus"),
    ("mx", "mx1.libraesva.com", "mx", "libraesva"),
    ("mx", "rakkestad-kommune-no-1.fortimailcloud.com", "mx", "fortinet"),
    ("mx", "cluster1.eu.messagelabs.com", "mx", "broadcom"),
    ("spf", "servers.mcsv.net", "spf", "mailchimp"),
    ("spf", "spf.mandrillapp.com", "spf", "mailchimp"),
    ("dkim", "s1.domainkey.u1234.wl.sendgrid.net", "dkim", "sendgrid"),
    ("spf", "spf.mailjet.com", "spf", "mailjet"),
    ("dkim", "mailjet._domainkey.example.org", "dkim", "mailjet"),
    ("spf", "eu.mailgun.org", "spf", "mailgun"),
    ("spf", "spf.sendinblue.com", "spf", "brevo"),
    ("spf", "spf.flowmailer.net", "spf", "flowmailer"),
    ("mx", "mx3.mail.ovh.net", "mx", "ovhcloud"),
    ("ns", "dns110.ovh.net", "ns", "ovhcloud"),
    ("mx", "www208.your-server.de", "mx", "hetzner"),
    ("ns", "hydrogen.ns.hetzner.com", "ns", "hetzner"),
    ("mx", "mx00.ionos.de", "mx", "ionos"),
    ("cname", "adsredir.ionos.info", "autodiscover", "ionos"),
    ("ns", "ns1045.ui-dns.com", "ns", "ionos"),
    ("spf", "_spf-eu.ionos.com", "spf", "ionos"),
    ("ns", "ns0.dom.scw.cloud", "ns", "scaleway"),
    ("mx", "mta-gw.infomaniak.ch", "mx", "infomaniak"),
    ("mx", "smtpin.rzone.de", "mx", "strato"),
    ("mx", "spool.mail.gandi.net", "mx", "gandi"),
    ("ns", "ns-123-a.gandi.net", "ns", "gandi"),
    ("spf", "_spf.transip.email", "spf", "transip"),
    ("ns", "ns0.transip.net", "ns", "transip"),
    ("asn", "60781", "web", "leaseweb"),
    ("mx", "mailsec.protonmail.ch", "mx", "proton"),
    ("txt", "protonmail-verification=abc", "txt", "proton"),
    ("mx", "mail.tutanota.de", "mx", "tuta"),
    ("mx", "mx1.rijksoverheid.nl", "mx", "rijksoverheid"),
    ("mx", "mx.kpnmail.nl", "mx", "kpn"),
    ("mx", "mx1.hostnet.nl", "mx", "hostnet"),
    ("mx", "mx.antagonist.nl", "mx", "antagonist"),
    ("mx", "mx1.versio.nl", "mx", "versio"),
    ("mx", "mx1.vimexx.nl", "mx", "vimexx"),
    ("mx", "mx1.mijndomein.nl", "mx", "mijndomein"),
    ("mx", "mx1.yourhosting.nl", "mx", "yourhosting"),
    ("mx", "smx01.a1.net", "mx", "a1-telekom"),
    ("spf", "bspf.a1.net", "spf", "a1-telekom"),
    ("mx", "mx.mymagenta.business", "mx", "magenta-telekom"),
    ("mx", "kpm01.kabelplus.at", "mx", "kabelplus"),
    ("spf", "spf.w4ymail.at", "spf", "world4you"),
    ("mx", "mx01.easyname.eu", "mx", "easyname"),
    ("mx", "mxgateway.gemdatnoe.at", "mx", "gemdat-noe"),
    ("mx", "lmail1.ris.at", "mx", "ris"),
    ("mx", "smtpgate.wvnet.at", "mx", "wvnet"),
    ("spf", "brz.gv.at", "spf", "brz"),
    ("mx", "mx01.wien.gv.at", "mx", "stadt-wien"),
    ("mx", "mx1.komm.one", "mx", "komm-one"),
    ("mx", "mx01.dataport.de", "mx", "dataport"),
    ("mx", "mail.akdb.de", "mx", "akdb"),
    ("mx", "mx.ekom21.de", "mx", "ekom21"),
    ("mx", "mx1.regioit.de", "mx", "regio-it"),
    ("mx", "mx.itebo.de", "mx", "itebo"),
    ("mx", "mail.kdo.de", "mx", "kdo"),
    ("mx", "mx.citkomm.de", "mx", "citkomm"),
    ("mx", "mx1.krz.de", "mx", "krz-lemgo"),
    ("mx", "mx0.hosteurope.de", "mx", "host-europe"),
    ("mx", "mx.1blu.de", "mx", "1blu"),
    ("mx", "mx01.posteo.de", "mx", "posteo"),
    ("mx", "mxext1.mailbox.org", "mx", "mailbox-org"),
    ("mx", "mx00.t-online.de", "mx", "telekom-deutschland"),
    ("mx", "mx.swisscom.com", "mx", "swisscom"),
    ("mx", "mx1.vrsg.ch", "mx", "abraxas"),
    ("mx", "mail.cyon.ch", "mx", "cyon"),
    ("mx", "mx.skynet.be", "mx", "proximus"),
    ("mx", "mx.combell.net", "mx", "combell"),
    ("mx", "mx1.smals.be", "mx", "smals"),
    ("mx", "smtp-in.orange.fr", "mx", "orange"),
    ("mx", "mx1.o2switch.net", "mx", "o2switch"),
    ("mx", "mx.aruba.it", "mx", "aruba"),
    ("mx", "mx.register.it", "mx", "register-it"),
    ("mx", "mx1.seznam.cz", "mx", "seznam"),
    ("mx", "mx1.wedos.net", "mx", "wedos"),
    ("asn", "8447", "web", "a1-telekom"),
    ("mx", "example-de.mail.protection.outlook.de", "mx", "microsoft"),
    ("spf", "spf-pp.post.at", "spf", "post-at"),
    ("spf", "grz.at", "spf", "grz-it-center"),
    ("mx", "mailpod4-cph3.one.com", "mx", "group-one"),
    ("mx", "mailcluster.loopia.se", "mx", "loopia"),
    ("mx", "mx.domeneshop.no", "mx", "domeneshop"),
    ("mx", "mx.simply.com", "mx", "simply"),
    ("mx", "mx10.mailspamprotection.com", "mx", "siteground"),
    ("spf", "postal.oderland.com", "spf", "oderland"),
    ("spf", "_spf.telecomputing.no", "spf", "telecomputing"),
    ("spf", "spf.ubivox.com", "spf", "ubivox"),
    ("mx", "mx1.1984.is", "mx", "hosting-1984"),
    ("mx", "w01abcd.kasserver.com", "mx", "all-inkl"),
    ("mx", "mx1.agenturserver.de", "mx", "mittwald"),
    ("ns", "ns23.domaincontrol.com", "ns", "godaddy"),
    ("mx", "mxlb.ispgateway.de", "mx", "domainfactory"),
    ("mx", "mx1.jimdo.com", "mx", "jimdo"),
    ("spf", "spf.mail.hostpoint.ch", "spf", "hostpoint"),
    ("mx", "mx1.hostinger.com", "mx", "hostinger"),
    ("spf", "spf-a.telia.com", "spf", "telia"),
    ("asn", "2119", "web", "telenor"),
    ("mx", "mx.ya.elisa.fi", "mx", "elisa"),
    ("spf", "mg-lcsse.tietoevry.com", "spf", "tietoevry"),
    ("mx", "mx01.advania.cloud", "mx", "advania"),
    ("spf", "mail.sitevision-cloud.net", "spf", "sitevision"),
    ("spf", "spf.lianamailer.com", "spf", "liana"),
    ("spf", "mail.webropolsurveys.com", "spf", "webropol"),
    ("spf", "spf.topdesk.net", "spf", "topdesk"),
    ("spf", "utpost.acos.no", "spf", "acos"),
    ("spf", "_spf.easycruit.com", "spf", "visma"),
    ("mx", "mx1.mailanyone.net", "mx", "vipre"),
    ("mx", "mx2.mx25.net", "mx", "vipre"),
    ("mx", "mx1.comendosystems.com", "mx", "vipre"),
    ("mx", "mx10.electric.net", "mx", "vipre"),
    ("dkim", "hse1._domainkey.example.org", "dkim", "hornetsecurity"),
    ("mx", "fortimail.lapit.fi", "mx", "lapit"),
    ("mx", "mail1.hedmark-ikt.no", "mx", "hedmark-ikt"),
    ("mx", "mx1.istekkipalvelut.fi", "mx", "istekki"),
    ("spf", "spf-a.meita.fi", "spf", "meita"),
    ("mx", "posti.saita.fi", "mx", "meita"),
    ("mx", "mailgw.unikom.se", "mx", "unikom"),
    ("mx", "mail.cnv.at", "mx", "cnv"),
    # issue 17 catalogue breadth (K1): Austrian regional operators, DE/CH public-sector IT
    ("mx", "scanmail01.citynet.at", "mx", "citynet"),
    ("mx", "antispam2.ainet.at", "mx", "ainet"),
    ("mx", "mx-in.cablelink.at", "mx", "salzburg-ag"),
    ("mx", "smtp.salzburg.at", "mx", "salzburg-ag"),
    ("cname", "mc04.x-net.at", "autodiscover", "x-net"),
    ("spf", "customer._spf.ipax.at", "spf", "ipax"),
    ("mx", "mx1.iteos.de", "mx", "komm-one"),
    ("spf", "spf.itdz-berlin.de", "spf", "itdz-berlin"),
    ("mx", "mx1.bedag.ch", "mx", "bedag"),
    ("mx", "mail.krzn.de", "mx", "krzn"),
    ("spf", "spf.kisa.it", "spf", "kisa"),
    ("mx", "mx1.lecos.de", "mx", "lecos"),
    ("mx", "mx.dvz-mv.de", "mx", "dvz-mv"),
    ("mx", "mx-ha01.netcologne.de", "mx", "netcologne"),
    ("mx", "mail.hzd.hessen.de", "mx", "hzd"),
    ("mx", "mx01.m-net.de", "mx", "m-net"),
    ("mx", "mx1.green.ch", "mx", "green-ch"),
    ("mx", "mx.netaachen.de", "mx", "netcologne"),
    ("mx", "mx01.cleanmail.ch", "mx", "cleanmail"),
    ("mx", "filter1.mailcleaner.net", "mx", "cleanmail"),
    ("mx", "dmzfml0001.ari-ag.ch", "mx", "ar-informatik"),
    ("mx", "miraculix1.ksd.ch", "mx", "informatik-schaffhausen"),
    ("mx", "mr01a.rzeins.ch", "mx", "rz-einsiedeln"),
    ("mx", "mta1.tg.ch", "mx", "kanton-thurgau"),
    ("mx", "mail.acg-geneve.ch", "mx", "siacg"),
    ("mx", "mail100.rizag.ch", "mx", "riz"),
    ("mx", "mailgw01.zii.ch", "mx", "zimmerberg-informatik"),
    ("mx", "mx-cluster01-hz13.hornetsecurity.ch", "mx", "hornetsecurity"),
    ("mx", "nemx9a.ne.ch", "mx", "kanton-neuchatel"),
    ("mx", "mail1.zg.ch", "mx", "kanton-zug"),
    ("mx", "mail1.ur.ch", "mx", "kanton-uri"),
    ("mx", "mx.itcentrum.se", "mx", "itcentrum"),
    ("mx", "mx2-in.kase.fi", "mx", "kasenet"),
    # issue 17 catalogue breadth: ES, PL, IT, BE operators
    ("ns", "dns2.home.pl", "ns", "home-pl"),
    ("mx", "mojserwer.nazwa.pl", "mx", "nazwa-pl"),
    ("ns", "ns3.dinahosting.com", "ns", "dinahosting"),
    ("spf", "srv.cat", "spf", "cdmon"),
    ("mx", "mx01.cdmon.net", "mx", "cdmon"),
    ("mx", "mx.lepida.it", "mx", "lepida"),
    ("mx", "mail.csipiemonte.it", "mx", "csi-piemonte"),
    ("mx", "mx.insiel.it", "mx", "insiel"),
    ("mx", "mx1.trentinodigitale.it", "mx", "trentino-digitale"),
    ("mx", "mx.liguriadigitale.it", "mx", "liguria-digitale"),
    ("mx", "mx1.correolimpio.telefonica.es", "mx", "telefonica"),
    ("spf", "_spf.forpsi.com", "spf", "forpsi"),
    # issue 17 catalogue breadth (K2): European and international gateways, Nordic relays
    ("mx", "example-fr.mx1.mailinblack.com", "mx", "mailinblack"),
    ("mx", "mx1.example-fr.in.vadesecure.com", "mx", "vade"),
    ("mx", "cust38211-1.in.mailcontrol.com", "mx", "forcepoint"),
    ("mx", "mx1.mtaroutes.com", "mx", "n-able"),
    ("mx", "mx70832.bak.secmail.com", "mx", "secmail"),
    ("mx", "esva1.esvacloud.com", "mx", "libraesva"),
    ("mx", "mx1.ess.barracuda.com", "mx", "barracuda"),
    ("mx", "mx.seppmail.com", "mx", "seppmail"),
    ("mx", "mx1.halley.it", "mx", "halley"),
    ("mx", "mx.halleyveneto.it", "mx", "halley"),
    ("mx", "mx.a2asmartcity.it", "mx", "a2a-smartcity"),
    ("mx", "mx1.example-fr.vaderetro.com", "mx", "vade"),
    ("mx", "mx1.sogei.it", "mx", "sogei"),
    ("mx", "mx1.ariaspa.it", "mx", "aria-lombardia"),
    ("mx", "mail.siag.it", "mx", "siag"),
    ("mx", "mx.sardegnait.it", "mx", "sardegna-it"),
    ("mx", "mx01.gvcc.net", "mx", "gvcc"),
    ("mx", "mx1.recia.tech", "mx", "gip-recia"),
    ("mx", "mx.mailo.com", "mx", "mailo"),
    ("mx", "mx1.tiera.fi", "mx", "tiera"),
    ("mx", "fallbackmx.spamexperts.eu", "mx", "n-able"),
    ("mx", "mx1.emailsrvr.com", "mx", "rackspace"),
    ("mx", "eu-esec-01.heimdalsecurity.com", "mx", "heimdal"),
    ("spf", "mail.zendesk.com", "spf", "zendesk"),
    ("cname", "example.github.io", "web", "github"),
    ("ip", "185.199.110.153", "web", "github"),
    ("ip", "75.2.60.5", "web", "netlify"),
    ("ip", "76.76.21.21", "web", "vercel"),
    ("ip", "198.49.23.145", "web", "squarespace"),
    ("ip", "23.227.38.65", "web", "shopify"),
    ("ip", "104.16.1.1", "web", "cloudflare"),
    ("cname", "example.com.x.incapdns.net", "web", "imperva"),
    ("ns", "dns1.p01.nsone.net", "ns", "ns1"),
    ("ns", "udns1.ultradns.net", "ns", "ultradns"),
    ("cname", "example.b-cdn.net", "web", "bunny"),
    ("cname", "cl-abc123.gcdn.co", "web", "gcore"),
    ("cname", "example-1a2b.kxcdn.com", "web", "keycdn"),
    ("cname", "1234567890.rsc.cdn77.org", "web", "cdn77"),
    ("cname", "example.netlify.app", "web", "netlify"),
    ("cname", "cname.vercel-dns.com", "web", "vercel"),
    ("cname", "example.wixdns.net", "web", "wix"),
    ("cname", "ext-cust.squarespace.com", "web", "squarespace"),
    ("cname", "shops.myshopify.com", "web", "shopify"),
    ("dkim", "hs1-1234.hubspotemail.net", "dkim", "hubspot"),
    ("dmarc", "ag.eu.dmarcian.com", "dmarc", "dmarcian"),
    ("dmarc", "dmarc-reports.vali.email", "dmarc", "valimail"),
    ("dmarc", "xyz.rua.easydmarc.eu", "dmarc", "easydmarc"),
    ("dmarc", "inbox.ondmarc.com", "dmarc", "redsift"),
    ("dmarc", "example.uriports.com", "dmarc", "uriports"),
    ("dmarc", "example.report-uri.com", "dmarc", "report-uri"),
    ("spf", "spf.mtasv.net", "spf", "postmark"),
    ("txt", "facebook-domain-verification=abc123", "txt", "meta"),
    ("txt", "adobe-idp-site-verification=abc123", "txt", "adobe"),
    ("txt", "docusign=0a1b2c3d-1234", "txt", "docusign"),
    ("txt", "dropbox-domain-verification=abc123", "txt", "dropbox"),
    ("txt", "teamviewer-sso-verification=abc123", "txt", "teamviewer"),
    ("txt", "cisco-ci-domain-verification=abc123", "txt", "cisco"),
    ("dmarc", "dmarc.postmarkapp.com", "dmarc", "postmark"),
    ("ns", "ns2.openprovider.be", "ns", "openprovider"),
    ("ns", "ns1.yoursrs.com", "ns", "realtime-register"),
    ("ns", "ns3.argewebhosting.nl", "ns", "argeweb"),
    ("ns", "ns4.nucleus.be", "ns", "nucleus"),
    ("ns", "ns1.easyhost.be", "ns", "easyhost"),
    ("mx", "mx2.cyso.net", "mx", "cyso"),
    ("mx", "mx.backup.mailprotect.be", "mx", "combell"),
    ("mx", "mx11.surfmailfilter.nl", "mx", "surf"),
    ("mx", "mx2.onlinespamfilter.com", "mx", "onlinespamfilter"),
    ("mx", "mx1.alwaysdata.com", "mx", "alwaysdata"),
    ("ns", "dns2.alwaysdata.com", "ns", "alwaysdata"),
    ("mx", "mx.cert.legalmail.it", "mx", "infocert"),
    ("spf", "_spf-legalmail.infocert.it", "spf", "infocert"),
    ("mx", "mx2.altospam.net", "mx", "altospam"),
    ("mx", "mx1.seeweb.it", "mx", "seeweb"),
    ("mx", "mail.numerian.fr", "mx", "numerian"),
    ("mx", "mx.inforoutes.fr", "mx", "numerian"),
    ("mx", "mx.ddgi.cat", "mx", "diputacio-girona"),
    ("mx", "smtpin2.dipcas.es", "mx", "diputacion-castellon"),
    ("mx", "mx1.dipta.cat", "mx", "diputacio-tarragona"),
    ("mx", "mx2.tinet.org", "mx", "diputacio-tarragona"),
    ("mx", "estafeta1.dpteruel.es", "mx", "diputacion-teruel"),
    ("mx", "mx10.samdipuleon.es", "mx", "diputacion-leon"),
    ("mx", "mail2.correo.gob.es", "mx", "correo-gob-es"),
    ("spf", "spf.correo.gob.es", "spf", "correo-gob-es"),
    ("mx", "mail.nominalia.com", "mx", "nominalia"),
    ("mx", "mailgw02.host.it", "mx", "host-it"),
    ("mx", "mail.vianova.it", "mx", "vianova"),
    ("mx", "mx.vi-pa.cloud", "mx", "vianova"),
    ("mx", "mxb.ovh.net", "mx", "ovhcloud"),
    ("mx", "mx.relay.orange-business.com", "mx", "orange"),
    ("mx", "mx4.nameshield.net", "mx", "nameshield"),
    ("mx", "correo.dip-caceres.es", "mx", "diputacion-caceres"),
    ("mx", "mail1.dipualba.es", "mx", "diputacion-albacete"),
    ("mx", "correo3.dipujaen.es", "mx", "diputacion-jaen"),
]

# Look-alikes that must not match anything of the given kind.
NEGATIVES: list[tuple[str, str, str]] = [
    ("mx", "pphosted.com.evil.example", "mx"),
    ("mx", "notmimecast.com", "mx"),
    ("mx", "mail.ticsi.it", "mx"),
    ("ns", "dns.home.pl.example", "ns"),
    ("ns", "ns5.dinahosting.com.example", "ns"),
    ("mx", "mx.zoho.eu.example", "mx"),
    ("dmarc", "noteasydmarc.com", "dmarc"),
    ("ns", "ns-cloud-z9.googledomains.com", "ns"),
    ("spf", "spf.protection.outlook.com.example", "spf"),
    ("txt", "v=spf1 include:_spf.google.com ~all", "txt"),
    ("ns", "eu-sedo-ns1.yoursrs.com", "ns"),
    ("ns", "ns1.openprovider.nl.example", "ns"),
    ("ns", "ns1.argewebhosting.org", "ns"),
    ("mx", "mx1.notcyso.net", "mx"),
    ("ns", "dns3.alwaysdata.com", "ns"),
    ("mx", "mx.cert.legalmail.it.example", "mx"),
    ("mx", "mx.notaltospam.com", "mx"),
    ("mx", "mail.numerian.fr.example", "mx"),
    ("mx", "mx.notddgi.cat", "mx"),
    ("mx", "correo.gob.es.example", "mx"),
    ("mx", "mx1.nominalia.com", "mx"),
    ("mx", "mx.interhost.it", "mx"),
    ("mx", "mx9.ovh.net", "mx"),
]


def _match(cat: Catalogue, kind: str, value: str, probe: str) -> tuple[Match, ...]:
    if kind == "txt":
        return cat.match_text(kind, value, probe)
    if kind == "asn":
        return cat.match_asn(int(value), probe)
    if kind == "ip":
        return cat.match_ip(value, probe)
    return cat.match_name(kind, value, probe)


def test_issue_providers_exist() -> None:
    cat = default_catalogue()
    missing = [p for p in REQUIRED if p not in cat.providers]
    assert not missing
    assert len(cat.providers) >= 80


@pytest.mark.parametrize(("kind", "value", "probe", "provider"), EXAMPLES)
def test_documented_examples_match(kind: str, value: str, probe: str, provider: str) -> None:
    hits = {m.fingerprint.provider for m in _match(default_catalogue(), kind, value, probe)}
    assert hits == {provider}, f"{kind} {value!r} -> {sorted(hits)}"


def test_every_provider_has_an_example() -> None:
    covered = {p for _, _, _, p in EXAMPLES}
    assert sorted(set(default_catalogue().providers) - covered) == []


@pytest.mark.parametrize(("kind", "value", "probe"), NEGATIVES)
def test_lookalikes_do_not_match(kind: str, value: str, probe: str) -> None:
    assert _match(default_catalogue(), kind, value, probe) == ()


def test_no_two_providers_claim_the_same_pattern() -> None:
    claims: dict[tuple[str, str, str], set[str]] = {}
    for fp in default_catalogue().fingerprints:
        key = (fp.kind, fp.pattern.lower().rstrip("."), fp.capability.value)
        claims.setdefault(key, set()).add(fp.provider)
    shared = {k: v for k, v in claims.items() if len(v) > 1}
    assert shared == {}


def test_patterns_are_unique_within_a_provider() -> None:
    counts = Counter(
        (fp.provider, fp.kind, fp.pattern.lower(), tuple(sorted(fp.probes)))
        for fp in default_catalogue().fingerprints
        if fp.kind != "ip"
    )
    assert [k for k, n in counts.items() if n > 1] == []


US_TAGS = {"us-cloud-act", "us-fisa-702", "us-sanctions"}


def test_us_parent_means_us_jurisdiction_and_tags() -> None:
    for p in default_catalogue().providers.values():
        if p.parent_country == "US" or p.legal_country == "US":
            assert p.jurisdiction == "US", p.id
        if p.jurisdiction == "US":
            assert set(p.tags) >= US_TAGS, p.id
            assert p.us_controlled


def test_non_us_providers_carry_no_us_tags_and_eu_ones_carry_gdpr() -> None:
    eu = {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
    for p in default_catalogue().providers.values():
        if p.jurisdiction != "US":
            assert not US_TAGS & set(p.tags), p.id
        if p.jurisdiction in eu:
            assert {"eu-gdpr", "eu-member-state"} <= set(p.tags), p.id
        if p.jurisdiction == "CH":
            assert "ch-fadp" in p.tags, p.id
        if p.kind == "public-sector":
            assert "national-government" in p.tags, p.id


def test_spf_never_strongly_proves_a_mailbox() -> None:
    for fp in default_catalogue().fingerprints:
        if fp.kind == "spf" and fp.capability.value == "mailbox":
            assert fp.weight <= 0.3, (fp.provider, fp.pattern)
        if fp.kind == "mx":
            assert fp.capability.value != "outbound-sender", (fp.provider, fp.pattern)


def test_verification_tokens_are_moderate() -> None:
    for fp in default_catalogue().fingerprints:
        if fp.kind == "txt":
            assert fp.weight <= 0.6, (fp.provider, fp.pattern)
            assert fp.match == "regex" and fp.pattern.startswith("^"), fp.pattern
            re.compile(fp.pattern)


def test_alternatives_are_european_and_served() -> None:
    for p in default_catalogue().providers.values():
        if p.alternatives_for:
            assert not p.us_controlled, p.id
            assert p.alternatives_for <= p.capabilities, p.id


def test_file_names_match_ids_and_public_sector_is_marked() -> None:
    for p in default_catalogue().providers.values():
        assert p.file == f"{p.id}.yaml", (p.id, p.file)
        if "national-government" in p.tags:
            assert p.kind == "public-sector", p.id
