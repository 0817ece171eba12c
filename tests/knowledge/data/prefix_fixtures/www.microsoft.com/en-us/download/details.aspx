<!DOCTYPE html>
<html lang="en"><head><title>Azure IP Ranges and Service Tags – Public Cloud</title></head>
<body><main>
<h1>Azure IP Ranges and Service Tags – Public Cloud</h1>
<p>This file contains the IP address ranges for Public Cloud.</p>
<a href="https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20261130.json" class="download">Download</a>
</main></body></html>
