// peer.js - evaluate FHIRPath expressions with fhirpath.js (R4 model) for
// tests/run/fhirpath_peer.sh. usage: node peer.js EXPRS.tsv DATA_DIR
// EXPRS.tsv lines: ResourceType<TAB>expression. Reads DATA_DIR/<Type>.ndjson (first 300
// lines) and prints one JSON line per (expression, resource): the result array, or
// "ERROR" when compiling or evaluating throws.
'use strict';
const fs = require('fs');
const fhirpath = require('fhirpath');
const model = require('fhirpath/fhir-context/r4');
const [exprsFile, dir] = process.argv.slice(2);
const cache = {};
const load = (t) => cache[t] || (cache[t] = fs.readFileSync(`${dir}/${t}.ndjson`, 'utf8')
  .split('\n').filter(Boolean).slice(0, 300).map((l) => JSON.parse(l)));
for (const line of fs.readFileSync(exprsFile, 'utf8').split('\n')) {
  if (!line.includes('\t')) continue;
  const [t, e] = line.split('\t');
  let f = null;
  try { f = fhirpath.compile(e, model); } catch (err) { f = null; }
  for (const r of load(t)) {
    if (!f) { console.log('ERROR'); continue; }
    try { console.log(JSON.stringify(f(r))); } catch (err) { console.log('ERROR'); }
  }
}
