// peer.js - the same FHIRPath evaluation benchmark with fhirpath.js (R4 model), for
// bench/fhirpath/run.sh. usage: node peer.js EXPRS.tsv FILE.ndjson.gz... [--reps N]
// Parsing is not timed; each expression is compiled once; best of N runs.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const fhirpath = require('fhirpath');
const model = require('fhirpath/fhir-context/r4');

const args = process.argv.slice(2);
let reps = 5;
const files = [];
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--reps') reps = Number(args[++i]);
  else files.push(args[i]);
}
const exprs = fs.readFileSync(args[0], 'utf8').split('\n').filter((l) => l.includes('\t'))
  .map((l) => { const [t, e] = l.split('\t'); return { t, fn: fhirpath.compile(e, model) }; });
const res = [];
for (const f of files) {
  let buf = fs.readFileSync(f);
  if (f.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  for (const line of buf.toString('utf8').split('\n')) if (line) res.push(JSON.parse(line));
}
let best = 1e30, bestCpu = 1e30, evals = 0, items = [];
for (let r = 0; r < reps; r++) {
  items = exprs.map(() => 0);
  evals = 0;
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  for (const x of res) {
    for (let e = 0; e < exprs.length; e++) {
      if (exprs[e].t !== x.resourceType) continue;
      items[e] += exprs[e].fn(x).length;
      evals++;
    }
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0), cs = (cu.user + cu.system) / 1e6;
  if (s < best) best = s;
  if (cs < bestCpu) bestCpu = cs;
}
console.log(`engine=fhirpath.js resources=${res.length} evals=${evals} seconds=${best.toFixed(4)} ` +
  `evals_per_s=${(evals / best).toFixed(0)} ns_per_eval=${(best * 1e9 / evals).toFixed(1)} ` +
  `cpu_seconds=${bestCpu.toFixed(4)} evals_per_cpu_s=${(evals / bestCpu).toFixed(0)}`);
items.forEach((n, i) => console.log(`items[${i}]=${n}`));
