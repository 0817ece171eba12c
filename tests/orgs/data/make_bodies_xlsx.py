"""Writes bodies.xlsx, the recorded Excel fixture (run: python make_bodies_xlsx.py).

Like lists that public bodies publish: a title row and an empty row above the header, Dutch
column names, a number where text is expected, a cell with two addresses, a second sheet
that is not the list.
"""

from pathlib import Path

import openpyxl


def main() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Organisaties"
    ws.append(["Overzicht zelfstandige bestuursorganen en agentschappen (peildatum 1-1-2026)"])
    ws.append([])
    ws.append(["Naam", "Afkorting", "Type", "Ministerie", "Website", "E-mailadres"])
    ws.append(["Sociale Verzekeringsbank", "SVB", "zbo", "nl-min:szw", "www.svb.nl", None])
    ws.append(["Logius", None, "agency", "nl-min:bzk", None, "servicecentrum@logius.nl"])
    ws.append(["Kamer van Koophandel", "KVK", "ZBO", "nl-min:ez", "https://www.kvk.nl/",
               "info@kvk.nl; klantenservice@kvk.nl"])  # fmt: skip
    ws.append(["Kapotte invoer", None, "zbo", None, "http://", None])
    ws.append(["Nummer als naam", None, "agency", None, 12345, None])
    other = wb.create_sheet("Toelichting")
    other.append(["Bron", "https://organisaties.overheid.nl"])
    wb.save(Path(__file__).with_name("bodies.xlsx"))


if __name__ == "__main__":
    main()
