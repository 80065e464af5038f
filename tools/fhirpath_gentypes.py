#!/usr/bin/env python3
"""fhirpath_gentypes.py - generate src/fhirpath/fp_types_tab.h (the FHIR type table).

usage: python3 tools/fhirpath_gentypes.py > src/fhirpath/fp_types_tab.h
       python3 tools/fhirpath_gentypes.py --ids > src/fhirpath/fp_types_ids.h

The data below is a deliberately small subset of the FHIR R4 model: every type name with
its base type, and the element types the evaluator needs to tell a date from a string,
to answer is()/as()/ofType() on common paths and to type backbone elements. Both tables
are emitted sorted so the C code can binary-search them. Edit the lists, rerun, commit."""
import sys

PRIMITIVES = """boolean integer string decimal uri url:uri canonical:uri oid:uri uuid:uri
base64Binary instant date dateTime time code:string id:string markdown:string
unsignedInt:integer positiveInt:integer xhtml integer64""".split()

COMPLEX = """Element BackboneElement:Element Extension:Element Narrative:Element Meta:Element
HumanName:Element Identifier:Element ContactPoint:Element Address:Element Period:Element
Coding:Element CodeableConcept:Element Quantity:Element Age:Quantity Duration:Quantity
Distance:Quantity Count:Quantity SimpleQuantity:Quantity MoneyQuantity:Quantity Money:Element
Range:Element Ratio:Element Reference:Element Attachment:Element Annotation:Element
Timing:BackboneElement SampledData:Element Signature:Element ContactDetail:Element
UsageContext:Element Dosage:BackboneElement Expression:Element RelatedArtifact:Element
CodeableReference:Element Resource DomainResource:Resource""".split()

RESOURCES = """Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
AppointmentResponse AuditEvent Basic Binary:Resource BiologicallyDerivedProduct BodyStructure
Bundle:Resource CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication
CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent Contract
Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device
DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport
DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint
EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceVariable
ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group
GuidanceResponse HealthcareService ImagingStudy Immunization ImmunizationEvaluation
ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List
Location Measure MeasureReport Media Medication MedicationAdministration MedicationDispense
MedicationKnowledge MedicationRequest MedicationStatement MessageDefinition MessageHeader
MolecularSequence NamingSystem NutritionOrder Observation ObservationDefinition
OperationDefinition OperationOutcome Organization OrganizationAffiliation
Parameters:Resource Patient PaymentNotice PaymentReconciliation Person PlanDefinition
Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse
RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy
ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest
Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription Substance
SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet
VisionPrescription ViewDefinition""".split()

# parent.element type   (backbone elements get a pseudo type "Parent.element")
ELEMENTS = """
Resource.id id
Resource.meta Meta
Resource.implicitRules uri
Resource.language code
DomainResource.text Narrative
DomainResource.contained Resource
DomainResource.extension Extension
DomainResource.modifierExtension Extension
Element.id string
Element.extension Extension
BackboneElement.modifierExtension Extension
Extension.url uri
Meta.versionId id
Meta.lastUpdated instant
Meta.source uri
Meta.profile canonical
Meta.security Coding
Meta.tag Coding
Narrative.status code
Narrative.div xhtml
HumanName.use code
HumanName.text string
HumanName.family string
HumanName.given string
HumanName.prefix string
HumanName.suffix string
HumanName.period Period
Identifier.use code
Identifier.type CodeableConcept
Identifier.system uri
Identifier.value string
Identifier.period Period
Identifier.assigner Reference
ContactPoint.system code
ContactPoint.value string
ContactPoint.use code
ContactPoint.rank positiveInt
ContactPoint.period Period
Address.use code
Address.type code
Address.text string
Address.line string
Address.city string
Address.district string
Address.state string
Address.postalCode string
Address.country string
Address.period Period
Period.start dateTime
Period.end dateTime
Coding.system uri
Coding.version string
Coding.code code
Coding.display string
Coding.userSelected boolean
CodeableConcept.coding Coding
CodeableConcept.text string
Quantity.value decimal
Quantity.comparator code
Quantity.unit string
Quantity.system uri
Quantity.code code
Money.value decimal
Money.currency code
Range.low Quantity
Range.high Quantity
Ratio.numerator Quantity
Ratio.denominator Quantity
Reference.reference string
Reference.type uri
Reference.identifier Identifier
Reference.display string
Attachment.contentType code
Attachment.language code
Attachment.data base64Binary
Attachment.url url
Attachment.size unsignedInt
Attachment.hash base64Binary
Attachment.title string
Attachment.creation dateTime
Annotation.time dateTime
Annotation.text markdown
Timing.event dateTime
Timing.code CodeableConcept
Signature.when instant
ContactDetail.name string
ContactDetail.telecom ContactPoint
UsageContext.code Coding
Dosage.sequence integer
Dosage.text string
Dosage.timing Timing
Dosage.route CodeableConcept
Expression.language code
Expression.expression string
Patient.identifier Identifier
Patient.active boolean
Patient.name HumanName
Patient.telecom ContactPoint
Patient.gender code
Patient.birthDate date
Patient.address Address
Patient.maritalStatus CodeableConcept
Patient.multipleBirthBoolean boolean
Patient.multipleBirthInteger integer
Patient.photo Attachment
Patient.contact Patient.contact
Patient.contact.relationship CodeableConcept
Patient.contact.name HumanName
Patient.contact.telecom ContactPoint
Patient.contact.address Address
Patient.contact.gender code
Patient.contact.organization Reference
Patient.contact.period Period
Patient.communication Patient.communication
Patient.communication.language CodeableConcept
Patient.communication.preferred boolean
Patient.generalPractitioner Reference
Patient.managingOrganization Reference
Patient.link Patient.link
Patient.link.other Reference
Patient.link.type code
Practitioner.identifier Identifier
Practitioner.active boolean
Practitioner.name HumanName
Practitioner.telecom ContactPoint
Practitioner.address Address
Practitioner.gender code
Practitioner.birthDate date
RelatedPerson.patient Reference
RelatedPerson.birthDate date
RelatedPerson.name HumanName
Person.birthDate date
Person.name HumanName
Organization.identifier Identifier
Organization.active boolean
Organization.type CodeableConcept
Organization.name string
Organization.alias string
Organization.telecom ContactPoint
Organization.address Address
Organization.partOf Reference
Observation.identifier Identifier
Observation.basedOn Reference
Observation.partOf Reference
Observation.status code
Observation.category CodeableConcept
Observation.code CodeableConcept
Observation.subject Reference
Observation.focus Reference
Observation.encounter Reference
Observation.issued instant
Observation.performer Reference
Observation.dataAbsentReason CodeableConcept
Observation.interpretation CodeableConcept
Observation.note Annotation
Observation.bodySite CodeableConcept
Observation.method CodeableConcept
Observation.specimen Reference
Observation.device Reference
Observation.referenceRange Observation.referenceRange
Observation.referenceRange.low Quantity
Observation.referenceRange.high Quantity
Observation.referenceRange.type CodeableConcept
Observation.referenceRange.appliesTo CodeableConcept
Observation.referenceRange.age Range
Observation.referenceRange.text string
Observation.hasMember Reference
Observation.derivedFrom Reference
Observation.component Observation.component
Observation.component.code CodeableConcept
Observation.component.dataAbsentReason CodeableConcept
Observation.component.interpretation CodeableConcept
Observation.component.referenceRange Observation.referenceRange
Encounter.identifier Identifier
Encounter.status code
Encounter.class Coding
Encounter.type CodeableConcept
Encounter.serviceType CodeableConcept
Encounter.priority CodeableConcept
Encounter.subject Reference
Encounter.participant Encounter.participant
Encounter.participant.type CodeableConcept
Encounter.participant.period Period
Encounter.participant.individual Reference
Encounter.appointment Reference
Encounter.period Period
Encounter.length Duration
Encounter.reasonCode CodeableConcept
Encounter.reasonReference Reference
Encounter.serviceProvider Reference
Encounter.partOf Reference
Condition.identifier Identifier
Condition.clinicalStatus CodeableConcept
Condition.verificationStatus CodeableConcept
Condition.category CodeableConcept
Condition.severity CodeableConcept
Condition.code CodeableConcept
Condition.bodySite CodeableConcept
Condition.subject Reference
Condition.encounter Reference
Condition.recordedDate dateTime
Condition.recorder Reference
Condition.asserter Reference
Condition.note Annotation
Procedure.status code
Procedure.code CodeableConcept
Procedure.subject Reference
Procedure.encounter Reference
AllergyIntolerance.code CodeableConcept
AllergyIntolerance.patient Reference
AllergyIntolerance.recordedDate dateTime
Immunization.status code
Immunization.vaccineCode CodeableConcept
Immunization.patient Reference
Immunization.recorded dateTime
MedicationRequest.status code
MedicationRequest.intent code
MedicationRequest.subject Reference
MedicationRequest.encounter Reference
MedicationRequest.authoredOn dateTime
MedicationRequest.requester Reference
MedicationRequest.dosageInstruction Dosage
MedicationStatement.status code
MedicationStatement.subject Reference
MedicationStatement.dateAsserted dateTime
DiagnosticReport.status code
DiagnosticReport.code CodeableConcept
DiagnosticReport.subject Reference
DiagnosticReport.issued instant
DiagnosticReport.result Reference
Appointment.identifier Identifier
Appointment.status code
Appointment.start instant
Appointment.end instant
Appointment.created dateTime
Appointment.minutesDuration positiveInt
Appointment.priority unsignedInt
Appointment.description string
Appointment.participant Appointment.participant
Appointment.participant.actor Reference
Appointment.participant.required code
Appointment.participant.status code
Appointment.participant.type CodeableConcept
Appointment.requestedPeriod Period
Questionnaire.url uri
Questionnaire.identifier Identifier
Questionnaire.version string
Questionnaire.name string
Questionnaire.title string
Questionnaire.status code
Questionnaire.experimental boolean
Questionnaire.subjectType code
Questionnaire.date dateTime
Questionnaire.publisher string
Questionnaire.code Coding
Questionnaire.item Questionnaire.item
Questionnaire.item.linkId string
Questionnaire.item.definition uri
Questionnaire.item.code Coding
Questionnaire.item.prefix string
Questionnaire.item.text string
Questionnaire.item.type code
Questionnaire.item.required boolean
Questionnaire.item.repeats boolean
Questionnaire.item.readOnly boolean
Questionnaire.item.maxLength integer
Questionnaire.item.answerValueSet canonical
Questionnaire.item.answerOption Questionnaire.item.answerOption
Questionnaire.item.item Questionnaire.item
Questionnaire.item.enableWhen Questionnaire.item.enableWhen
Questionnaire.item.enableWhen.question string
Questionnaire.item.enableWhen.operator code
QuestionnaireResponse.questionnaire canonical
QuestionnaireResponse.status code
QuestionnaireResponse.subject Reference
QuestionnaireResponse.authored dateTime
QuestionnaireResponse.item QuestionnaireResponse.item
QuestionnaireResponse.item.linkId string
QuestionnaireResponse.item.text string
QuestionnaireResponse.item.answer QuestionnaireResponse.item.answer
QuestionnaireResponse.item.item QuestionnaireResponse.item
QuestionnaireResponse.item.answer.item QuestionnaireResponse.item
ValueSet.url uri
ValueSet.identifier Identifier
ValueSet.version string
ValueSet.name string
ValueSet.title string
ValueSet.status code
ValueSet.date dateTime
ValueSet.publisher string
ValueSet.expansion ValueSet.expansion
ValueSet.expansion.identifier uri
ValueSet.expansion.timestamp dateTime
ValueSet.expansion.total integer
ValueSet.expansion.offset integer
ValueSet.expansion.contains ValueSet.expansion.contains
ValueSet.expansion.contains.system uri
ValueSet.expansion.contains.abstract boolean
ValueSet.expansion.contains.version string
ValueSet.expansion.contains.code code
ValueSet.expansion.contains.display string
ValueSet.expansion.contains.contains ValueSet.expansion.contains
CodeSystem.url uri
CodeSystem.version string
CodeSystem.name string
CodeSystem.status code
CodeSystem.date dateTime
CodeSystem.concept CodeSystem.concept
CodeSystem.concept.code code
CodeSystem.concept.display string
CodeSystem.concept.definition string
CodeSystem.concept.concept CodeSystem.concept
Parameters.parameter Parameters.parameter
Parameters.parameter.name string
Parameters.parameter.resource Resource
Parameters.parameter.part Parameters.parameter
Bundle.identifier Identifier
Bundle.type code
Bundle.timestamp instant
Bundle.total unsignedInt
Bundle.entry Bundle.entry
Bundle.entry.fullUrl uri
Bundle.entry.resource Resource
Task.status code
Task.intent code
Task.authoredOn dateTime
Task.lastModified dateTime
Task.for Reference
Task.owner Reference
Device.status code
Device.patient Reference
Device.manufacturer string
Device.expirationDate dateTime
Device.manufactureDate dateTime
ExplanationOfBenefit.status code
ExplanationOfBenefit.patient Reference
ExplanationOfBenefit.created dateTime
ExplanationOfBenefit.supportingInfo ExplanationOfBenefit.supportingInfo
ExplanationOfBenefit.supportingInfo.sequence positiveInt
ExplanationOfBenefit.supportingInfo.category CodeableConcept
ExplanationOfBenefit.item ExplanationOfBenefit.item
ExplanationOfBenefit.item.sequence positiveInt
ExplanationOfBenefit.item.informationSequence positiveInt
"""


def main():
    types = []  # (name, base)
    for spec in PRIMITIVES + COMPLEX:
        n, _, b = spec.partition(':')
        types.append((n, b))
    for spec in RESOURCES:
        n, _, b = spec.partition(':')
        types.append((n, b or 'DomainResource'))
    elems = []
    for line in ELEMENTS.strip().splitlines():
        path, t = line.split()
        parent, _, name = path.rpartition('.')
        elems.append((parent, name, t))
        if '.' in t and t not in [x[0] for x in types]:
            types.append((t, 'BackboneElement'))
    for parent, _, _ in elems:
        if '.' in parent and parent not in [x[0] for x in types]:
            types.append((parent, 'BackboneElement'))
    names = sorted({t[0] for t in types})
    base = {n: b for n, b in types}
    idx = {n: i + 1 for i, n in enumerate(names)}  # 0 = unknown
    prim = {p.partition(':')[0] for p in PRIMITIVES}
    res = {r.partition(':')[0] for r in RESOURCES} | {'Resource', 'DomainResource'}
    out = []
    out.append('/* fp_types_tab.h - GENERATED by tools/fhirpath_gentypes.py; do not edit (module fhirpath).')
    out.append(' * FHIR type names (sorted, id = index + 1), their base type, and element types. */')
    out.append('#define FP_NTYPES %d' % len(names))
    out.append('enum { FP_TF_PRIMITIVE = 1, FP_TF_RESOURCE = 2, FP_TF_BACKBONE = 4 };')
    out.append('/* kind: the fl_fp_kind a primitive is read as (1 BOOL, 2 INT, 3 DEC, 4 STR, 5 DATE, 6 DATETIME, 7 TIME) */')
    out.append('static const struct fp_type_row { const char *name; uint16_t base; uint8_t flags; uint8_t kind; } fp_type_rows[FP_NTYPES] = {')

    def kind(n):
        if n not in prim:
            return 0
        special = {'boolean': 1, 'decimal': 3, 'date': 5, 'dateTime': 6, 'instant': 6, 'time': 7}
        if n in special:
            return special[n]
        t = n
        while t:
            if t in ('integer', 'integer64'):
                return 2
            t = base.get(t, '')
        return 4
    for n in names:
        fl = (1 if n in prim else 0) | (2 if n in res else 0) | (4 if '.' in n else 0)
        out.append('    {"%s", %d, %d, %d},' % (n, idx.get(base.get(n, ''), 0), fl, kind(n)))
    out.append('};')
    ids = ['/* fp_types_ids.h - GENERATED by tools/fhirpath_gentypes.py --ids; do not edit (module fhirpath).',
           ' * Ids of the FHIR types the C code names directly (index + 1 in fp_type_rows). */']
    for n in ('string', 'uri', 'integer', 'decimal', 'boolean', 'date', 'dateTime', 'instant', 'time',
              'Quantity', 'Extension', 'Resource', 'Element', 'code', 'id'):
        ids.append('#define FP_T_%s %d' % (n.upper(), idx[n]))
    if '--ids' in sys.argv:
        print('\n'.join(ids))
        return
    # Flatten inheritance (Patient gets Resource.id, DomainResource.extension, ...) and
    # store (parent, element) -> type in an open-addressing hash table, so the C lookup
    # is one hash and a probe or two. The hash must match fp_elem_hash() in fp_types.c.
    direct = {}
    for p, n, t in elems:
        direct.setdefault(p, {})[n] = t
    flat = {}
    for tname in names:
        chain, t, guard = [], tname, 0
        while t and guard < 10:
            chain.append(t)
            t = base.get(t, '')
            guard += 1
        merged = {}
        for t in reversed(chain):
            merged.update(direct.get(t, {}))
        for n, et in merged.items():
            flat[(idx[tname], n)] = idx[et]
    size = 1
    while size < len(flat) * 2:
        size *= 2

    def h(parent, name):
        x = 2166136261
        for ch in name.encode():
            x = ((x ^ ch) * 16777619) & 0xffffffff
        x ^= (parent * 2654435761) & 0xffffffff
        return x

    slots = [None] * size
    for (pid, n), t in sorted(flat.items()):
        i = h(pid, n) & (size - 1)
        while slots[i] is not None:
            i = (i + 1) & (size - 1)
        slots[i] = (pid, n, t)
    out.append('#define FP_ELEM_SLOTS %d /* power of two; %d entries */' % (size, len(flat)))
    out.append('static const struct fp_elem_row { uint16_t parent; uint16_t type; const char *name; } fp_elem_rows[FP_ELEM_SLOTS] = {')
    for sl in slots:
        out.append('    {%d, %d, "%s"},' % (sl[0], sl[2], sl[1]) if sl else '    {0, 0, ""},')
    out.append('};')
    # type names: same hash with parent 0
    tsize = 1
    while tsize < len(names) * 2:
        tsize *= 2
    tslots = [0] * tsize
    for n in names:
        i = h(0, n) & (tsize - 1)
        while tslots[i]:
            i = (i + 1) & (tsize - 1)
        tslots[i] = idx[n]
    out.append('#define FP_TYPE_SLOTS %d' % tsize)
    out.append('static const uint16_t fp_type_slots[FP_TYPE_SLOTS] = {')
    for k in range(0, tsize, 16):
        out.append('    ' + ', '.join(str(x) for x in tslots[k:k + 16]) + ',')
    out.append('};')
    print('\n'.join(out))


if __name__ == '__main__':
    main()
