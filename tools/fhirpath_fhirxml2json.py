#!/usr/bin/env python3
"""fhirpath_fhirxml2json.py - test-only: convert the FHIRPath suite's FHIR XML inputs to JSON.

usage: tools/fhirpath_fhirxml2json.py IN.xml > OUT.json
       tools/fhirpath_fhirxml2json.py --check IN.xml TWIN.json   (compare with a JSON twin)

FHIR XML carries no cardinality or number types, so this uses a small table: elements
that repeat (max "*") and elements that hold numbers or booleans. It is enough for the
example resources of the R4 suite; --check verifies it against the official JSON twins
(order-insensitive, ignoring the XHTML narrative)."""
import json
import sys
import xml.etree.ElementTree as ET

NS = '{http://hl7.org/fhir}'
XHTML = '{http://www.w3.org/1999/xhtml}'

# element names that are arrays wherever they appear in these examples
ARRAYS = set('''extension modifierExtension identifier given line telecom contained coding parameter
part contains concept designation property item answerOption enableWhen performer
referenceRange component interpretation note generalPractitioner participant profile tag
security entry include filter basedOn partOf hasMember derivedFrom supportingInfo
informationSequence initial answer reasonCode reasonReference specialty slot requestedPeriod
careTeam diagnosis procedure insurance adjudication detail subDetail link communication
category alias subjectType serviceCategory'''.split())
# arrays only under a given resource path (path = dotted element names from the root)
ARRAY_PATHS = set('''Patient.name Patient.address Patient.contact Patient.photo Practitioner.name
Patient.contact.relationship Questionnaire.item.code Questionnaire.code CodeSystem.contact
ValueSet.contact CodeSystem.contact.telecom ValueSet.contact.telecom Observation.code.coding
Appointment.serviceType Appointment.participant.type CodeSystem.filter.operator'''.split())

NOT_ARRAY_PATHS = {'ValueSet.expansion.identifier'}

NUMBERS = set('''valueInteger valueDecimal valueUnsignedInt valuePositiveInt rank total offset
sequence value count maxLength minutesDuration priority informationSequence'''.split())
NUMBER_PARENTS_FOR_VALUE = set('valueQuantity valueAge valueDuration low high numerator denominator valueMoney net unitPrice'.split())
BOOLEANS = set('''active valueBoolean abstract inactive experimental required repeats readOnly
userSelected preferred deceasedBoolean multipleBirthBoolean answerBoolean initialSelected
caseSensitive compositional versionNeeded immutable lockedDate'''.split())

RESOURCE_HOLDERS = {'contained', 'resource', 'outcome'}


def local(tag):
    if tag.startswith(NS):
        return tag[len(NS):]
    return tag.split('}', 1)[-1]


def primitive(name, parent, text):
    if name in BOOLEANS:
        return text == 'true'
    if name in NUMBERS and (name != 'value' or parent in NUMBER_PARENTS_FOR_VALUE) and name not in ('sequence',) or \
            (name == 'sequence' and parent in ('supportingInfo', 'item')):
        try:
            return int(text)
        except ValueError:
            try:
                float(text)
                return json.loads(text) if 'e' not in text.lower() else float(text)
            except ValueError:
                return text
    return text


def convert(el, parent_name='', path=''):
    """Return (value, ext) for an element: value is a JSON value or None; ext is the
    '_name' object for primitives with id/extension."""
    name = local(el.tag)
    path = (path + '.' + name) if path else name
    children = [c for c in el if isinstance(c.tag, str)]
    if name == 'div' and el.tag.startswith(XHTML):
        return ET.tostring(el, encoding='unicode').strip(), None
    if 'value' in el.attrib:
        ext = {}
        if 'id' in el.attrib:
            ext['id'] = el.attrib['id']
        for c in children:
            if local(c.tag) == 'extension':
                ext.setdefault('extension', []).append(convert(c, name)[0])
        return primitive(name, parent_name, el.attrib['value']), (ext or None)
    obj = {}
    if 'id' in el.attrib:
        obj['id'] = el.attrib['id']
    if 'url' in el.attrib:
        obj['url'] = el.attrib['url']
    if name in RESOURCE_HOLDERS and len(children) == 1 and local(children[0].tag)[:1].isupper():
        return resource(children[0]), None
    for c in children:
        cn = local(c.tag)
        v, ext = convert(c, name, path)
        is_arr = (path + '.' + cn) not in NOT_ARRAY_PATHS and cn in ARRAYS or (path + '.' + cn) in ARRAY_PATHS or \
            ('.'.join(x for x in (path + '.' + cn).split('.') if x != 'item') in
             {'.'.join(q for q in p.split('.') if q != 'item') for p in ARRAY_PATHS if '.item.' in p})
        if is_arr:
            obj.setdefault(cn, [])
            if v is not None or ext is not None:
                obj[cn].append(v)
                if ext is not None or ('_' + cn) in obj:
                    arr = obj.setdefault('_' + cn, [])
                    while len(arr) < len(obj[cn]) - 1:
                        arr.append(None)
                    arr.append(ext)
        else:
            if v is not None:
                obj[cn] = v
            if ext is not None:
                obj['_' + cn] = ext
    return obj, None


def resource(el):
    obj, _ = convert(el)
    out = {'resourceType': local(el.tag)}
    out.update(obj)
    return out


def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if k != 'div'}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def diff(a, b, path=''):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                print('only in twin: %s.%s' % (path, k))
            elif k not in b:
                print('only in converted: %s.%s' % (path, k))
            else:
                diff(a[k], b[k], path + '.' + k)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, '%s[%d]' % (path, i))
    elif a != b:
        print('differs at %s: %r vs twin %r' % (path, a, b))


def main():
    if sys.argv[1] == '--check':
        conv = norm(resource(ET.parse(sys.argv[2]).getroot()))
        twin = norm(json.load(open(sys.argv[3])))
        diff(conv, twin)
        return
    print(json.dumps(resource(ET.parse(sys.argv[1]).getroot()), indent=1, ensure_ascii=False))


if __name__ == '__main__':
    main()
