/* server_util.c - helpers of the REST server (module server): the FHIR R4 resource type
 * list (plus the fhirlake/Aidbox types the next part adds), header lookup, OperationOutcome
 * responses, HTTP status mapping, HTTP dates, percent-encoding and body parsing.
 * Nothing here touches the socket layer. */
#include "server/server_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

/* FHIR R4 (4.0.1) resource types, sorted, plus the fhirlake/Aidbox ones. */
static const char *const types[] = {
    "Account", "ActivityDefinition", "AdverseEvent", "AidboxSubscriptionTopic",
    "AidboxTopicDestination", "AllergyIntolerance", "Appointment", "AppointmentResponse",
    "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct", "BodyStructure", "Bundle",
    "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry", "ChargeItem",
    "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression", "CodeSystem",
    "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition", "ConceptMap",
    "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
    "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
    "DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
    "DocumentReference", "EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest",
    "EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
    "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
    "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
    "Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation",
    "ImplementationGuide", "InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location",
    "Measure", "MeasureReport", "Media", "Medication", "MedicationAdministration",
    "MedicationDispense", "MedicationKnowledge", "MedicationRequest", "MedicationStatement",
    "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader",
    "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation", "ObservationDefinition",
    "OperationDefinition", "OperationOutcome", "Organization", "OrganizationAffiliation",
    "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition",
    "Practitioner", "PractitionerRole", "Procedure", "Provenance", "Questionnaire",
    "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition",
    "ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment",
    "RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
    "SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance",
    "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
    "SubstanceReferenceInformation", "SubstanceSourceMaterial", "SubstanceSpecification",
    "SupplyDelivery", "SupplyRequest", "Task", "TerminologyCapabilities", "TestReport",
    "TestScript", "ValueSet", "VerificationResult", "ViewDefinition", "VisionPrescription",
};

bool srv_known_type(fl_str type)
{
    size_t lo = 0, hi = sizeof types / sizeof types[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = fl_str_cmp(fl_str_c(types[mid]), type);
        if (c == 0) return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

size_t srv_known_type_count(void) { return sizeof types / sizeof types[0]; }
const char *srv_known_type_at(size_t i) { return types[i]; }

fl_str srv_header(const fl_server_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        fl_str h = req->headers[i].name;
        if (h.len == n && strncasecmp(h.ptr, name, n) == 0) return req->headers[i].value;
    }
    return FL_STR_NULL;
}

void srv_add_header(srv_req *r, const char *name, fl_str value)
{
    fl_server_resp *resp = r->resp;
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (fl_str_eq_c(resp->headers[i].name, name)) {
            resp->headers[i].value = fl_arena_str_dup(r->a, value);
            return;
        }
    }
    if (resp->nheaders >= FL_SERVER_MAX_RESP_HEADERS) return;
    resp->headers[resp->nheaders].name = fl_str_c(name);
    resp->headers[resp->nheaders].value = fl_arena_str_dup(r->a, value);
    resp->nheaders++;
}

void srv_add_header_c(srv_req *r, const char *name, const char *value)
{
    srv_add_header(r, name, fl_str_c(value));
}

const char *srv_issue_code(int status)
{
    switch (status) {
    case 400: return "invalid";
    case 401: return "login";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405: return "not-supported";
    case 409: return "conflict";
    case 410: return "deleted";
    case 412: return "conflict";
    case 413: return "too-long";
    case 414: return "too-long";
    case 431: return "too-long";
    case 415: return "not-supported";
    case 422: return "processing";
    case 503: return "transient";
    default: return status >= 500 ? "exception" : "informational";
    }
}

const char *srv_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

void srv_outcome_json(fl_jw *w, int status, const char *severity, const char *msg)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "resourceType");
    fl_jw_str_c(w, "OperationOutcome");
    fl_jw_key_c(w, "issue");
    fl_jw_arr_begin(w);
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "severity");
    fl_jw_str_c(w, severity);
    fl_jw_key_c(w, "code");
    fl_jw_str_c(w, srv_issue_code(status));
    fl_jw_key_c(w, "diagnostics");
    fl_jw_str_c(w, msg);
    fl_jw_obj_end(w);
    fl_jw_arr_end(w);
    fl_jw_obj_end(w);
}

void srv_outcome(srv_req *r, int status, const char *fmt, ...)
{
    char msg[FL_ERR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->resp->status = status;
    fl_buf_clear(&r->resp->body);
    fl_jw w;
    fl_jw_init(&w, &r->resp->body);
    srv_outcome_json(&w, status, status >= 400 ? "error" : "information", msg);
    fl_log(&r->srv->opts.log, status >= 500 ? FL_LOG_ERROR : FL_LOG_DEBUG, "%d %s", status, msg);
}

void srv_json_resource(srv_req *r, fl_jw *w, const char *resource_type)
{
    fl_buf_clear(&r->resp->body);
    fl_jw_init(w, &r->resp->body);
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "resourceType");
    fl_jw_str_c(w, resource_type);
}

int srv_status_for(fl_rc rc, const fl_err *err)
{
    if (err && err->status >= 400 && err->status < 600) return err->status;
    switch (rc) {
    case FL_E_NOT_FOUND: return 404;
    case FL_E_CONFLICT: return 409;
    case FL_E_ARG:
    case FL_E_FHIR_INVALID:
    case FL_E_JSON_SYNTAX:
    case FL_E_JSON_DUPKEY:
    case FL_E_JSON_DEPTH:
    case FL_E_JSON_TYPE:
    case FL_E_UTF8: return 400;
    case FL_E_LIMIT: return 413;
    default: return err && fl_err_is_retriable(err) ? 503 : 500;
    }
}

size_t srv_http_date(int64_t us, char *out, size_t cap)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
        if (cap) out[0] = 0;
        return 0;
    }
    int n = snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
                     mn[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 ? (size_t)n : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

fl_str srv_pct_decode(fl_arena *a, fl_str s, bool plus_is_space)
{
    char *o = fl_arena_alloc(a, s.len + 1);
    if (!o) return FL_STR_NULL;
    size_t k = 0;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch == '%' && i + 2 < s.len + 0 && hexval(s.ptr[i + 1]) >= 0 && hexval(s.ptr[i + 2]) >= 0) {
            o[k++] = (char)(hexval(s.ptr[i + 1]) * 16 + hexval(s.ptr[i + 2]));
            i += 2;
        } else if (ch == '+' && plus_is_space) {
            o[k++] = ' ';
        } else {
            o[k++] = ch;
        }
    }
    o[k] = 0;
    return fl_str_make(o, k);
}

void srv_pct_encode(fl_buf *out, fl_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                     ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == ':';
        if (plain) {
            fl_buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            fl_buf_append(out, e, 3);
        }
    }
}

fl_rc srv_conn(srv_req *r, fl_err *err)
{
    if (r->c) return FL_OK;
    return fl_fhirdb_acquire(r->srv->db, &r->c, err);
}

const fl_json_val *srv_parse_body(srv_req *r, fl_str body, const char *what)
{
    if (body.len == 0) {
        srv_outcome(r, 400, "%s: the request body is empty (expected a FHIR JSON resource)", what);
        return NULL;
    }
    fl_json_opts o = {.flags = 0, .max_depth = FL_SERVER_MAX_JSON_DEPTH, .max_size = body.len};
    fl_json_val *v = NULL;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_json_parse(body.ptr, body.len, &o, r->a, &v, NULL, &err);
    if (rc == FL_E_NOMEM) {
        srv_outcome(r, 500, "%s: out of memory parsing the body", what);
        return NULL;
    }
    if (rc) {
        srv_outcome(r, 400, "%s: invalid JSON at line %u, column %u: %s", what, err.line, err.col,
                    err.msg[0] ? err.msg : fl_rc_str(rc));
        return NULL;
    }
    if (!fl_json_is_obj(v)) {
        srv_outcome(r, 400, "%s: the body must be a JSON object (a FHIR resource)", what);
        return NULL;
    }
    return v;
}

void srv_version_headers(srv_req *r, const fl_fhirdb_rec *rec, bool loc)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "W/\"%lld\"", (long long)rec->version);
    srv_add_header(r, "ETag", fl_str_make(buf, (size_t)n));
    size_t dn = srv_http_date(rec->last_updated_us, buf, sizeof buf);
    if (dn) srv_add_header(r, "Last-Modified", fl_str_make(buf, dn));
    if (loc) {
        fl_buf b;
        fl_buf_init(&b, 4096);
        fl_buf_printf(&b, FL_STR_FMT "/" FL_STR_FMT "/" FL_STR_FMT "/_history/%lld",
                      FL_STR_ARG(r->base_url), FL_STR_ARG(rec->type), FL_STR_ARG(rec->id),
                      (long long)rec->version);
        if (!b.rc) srv_add_header(r, "Location", fl_buf_str(&b));
        fl_buf_reset(&b);
    }
}

void srv_set_json_body(srv_req *r, int status, fl_str json)
{
    r->resp->status = status;
    fl_buf_clear(&r->resp->body);
    fl_buf_append_str(&r->resp->body, json);
}
