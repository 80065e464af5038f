// peer.js - the same patient view in Node with fhirpath.js, every expression compiled
// once (the fast way to use fhirpath.js; see docs/reference/sql-on-fhir.md §6.3).
// usage: node peer.js IN.ndjson OUT.ndjson [reps]
// Prints one line of key=value pairs like bench_view_run (best of reps; reading and
// JSON.parse of each line, evaluation and NDJSON output are all timed).
'use strict';
const fs = require('fs');
const fhirpath = require('fhirpath');

const [input, output, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const c = (e) => fhirpath.compile(e, null);
const p = {
  id: c('id'), gender: c('gender'), birth: c('birthDate'),
  family: c("name.where(use = 'official').family.first()"),
  given: c("name.where(use = 'official').given.join(' ')"),
  address: c('address'),
  use: c('use'), line: c("line.join(', ')"), city: c('city'), state: c('state'), postal: c('postalCode'),
};
const one = (fn, node) => { const r = fn(node); return r.length ? r[0] : null; };

function run() {
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  const text = fs.readFileSync(input, 'utf8');
  const out = [];
  let resources = 0, rows = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    resources++;
    if (r.resourceType !== 'Patient') continue;
    const base = { id: one(p.id, r), gender: one(p.gender, r), birth_date: one(p.birth, r),
                   family: one(p.family, r), given: one(p.given, r) };
    for (const a of p.address(r)) {
      out.push(JSON.stringify(Object.assign({}, base, { addr_use: one(p.use, a), line: one(p.line, a),
        city: one(p.city, a), state: one(p.state, a), postal_code: one(p.postal, a) })));
      rows++;
    }
  }
  fs.writeFileSync(output, out.join('\n') + '\n');
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0), cpu = (cu.user + cu.system) / 1e6;
  return { resources, rows, secs, cpu };
}

let best = null, bestCpu = Infinity;
for (let i = 0; i < reps; i++) {
  const r = run();
  if (!best || r.secs < best.secs) best = r;
  bestCpu = Math.min(bestCpu, r.cpu);
}
console.log(`peer=fhirpath.js-${require('fhirpath/package.json').version} resources=${best.resources} rows=${best.rows} ` +
            `seconds=${best.secs.toFixed(3)} resources_per_s=${Math.round(best.resources / best.secs)} ` +
            `rows_per_s=${Math.round(best.rows / best.secs)} cpu_seconds=${bestCpu.toFixed(3)} ` +
            `resources_per_cpu_s=${Math.round(best.resources / bestCpu)}`);
