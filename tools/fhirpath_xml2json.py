#!/usr/bin/env python3
"""fhirpath_xml2json.py - test-only: turn the official FHIRPath XML suite into JSON cases.

usage: tools/fhirpath_xml2json.py tests/data/fhirpath/r4/tests-fhir-r4.xml > tests/data/fhirpath/r4-cases.json

One JSON object per test: group, name, input (file name; an XML input is mapped to
converted/<name>.json when present (made by tools/fhirpath_fhirxml2json.py), else to its
official JSON twin under json-equivalents/, else kept as .xml so the runner reports the
case as needing XML), expression, invalid (syntax|semantic|execution|""),
predicate, mode, ordered, outputs [{type, value}]. Output goes to stdout, one case per
line inside a JSON array so diffs stay readable."""
import json
import os
import sys
import xml.etree.ElementTree as ET


def local(tag):
    return tag.split('}', 1)[-1]


def main():
    path = sys.argv[1]
    base = os.path.dirname(path)
    root = ET.parse(path).getroot()
    cases = []
    for group in root:
        if local(group.tag) != 'group':
            continue
        for test in group:
            if local(test.tag) != 'test':
                continue
            inp = test.get('inputfile') or ''
            if inp.endswith('.xml'):
                twin = os.path.join('json-equivalents', inp[:-4] + '.json')
                conv = os.path.join('converted', inp[:-4] + '.json')
                if os.path.exists(os.path.join(base, conv)):
                    inp = conv
                elif os.path.exists(os.path.join(base, twin)):
                    inp = twin
                elif os.path.exists(os.path.join(base, inp[:-4] + '.json')):
                    inp = inp[:-4] + '.json'
            expr_el = None
            outputs = []
            for ch in test:
                if local(ch.tag) == 'expression':
                    expr_el = ch
                elif local(ch.tag) == 'output':
                    outputs.append({'type': ch.get('type') or '', 'value': ch.text or ''})
            cases.append({
                'group': group.get('name') or '',
                'name': test.get('name') or '',
                'input': inp,
                'expression': (expr_el.text or '') if expr_el is not None else '',
                'invalid': (expr_el.get('invalid') or '') if expr_el is not None else '',
                'predicate': test.get('predicate') == 'true',
                'mode': test.get('mode') or '',
                'ordered': test.get('ordered') != 'false',
                'outputs': outputs,
            })
    sys.stdout.write('[\n')
    sys.stdout.write(',\n'.join(json.dumps(c, ensure_ascii=False) for c in cases))
    sys.stdout.write('\n]\n')


if __name__ == '__main__':
    main()
