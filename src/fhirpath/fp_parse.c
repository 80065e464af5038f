/* fp_parse.c - FHIRPath lexer, parser and compile step (module fhirpath).
 * Turns expression text into an AST in the program's arena: literals are decoded once,
 * functions are resolved to their table entry (argument counts checked), %variables to
 * slots or constants, and type specifiers of is/as/ofType to (namespace, name) pairs.
 * Recursion is bounded by opts->max_depth; nothing here runs at evaluation time.
 * Uses base and the module's own tables only. */
#include "fhirpath/fhirpath_int.h"

#include <stdarg.h>
#include <stdio.h>

#define FP_MAX_DEFINED_VARS 64u /* defineVariable() names visible at one point */

typedef struct fp_parser {
    fl_fp_prog *p;
    const fl_fp_opts *o;
    fl_err *err;
    const char *src;
    size_t len;
    size_t pos;   /* lexer cursor */
    fp_tok tok;   /* current token */
    fp_tok peek;  /* lookahead (valid when has_peek) */
    bool has_peek;
    uint32_t depth, max_depth;
    fl_str scope[FP_MAX_DEFINED_VARS]; /* names bound by defineVariable() in open chains */
    uint32_t nscope;
} fp_parser;

/* ------------------------------------------------------------------ errors */

static fl_rc perr(fp_parser *ps, uint32_t pos, fl_rc code, const char *fmt, ...) FL_PRINTF(4, 5);
static fl_rc perr(fp_parser *ps, uint32_t pos, fl_rc code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < ps->len; i++) {
        if (ps->src[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)ps->src[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    int shown = ps->len > 160 ? 160 : (int)ps->len;
    const char *name = ps->o && ps->o->name ? ps->o->name : NULL;
    if (line > 1)
        return fl_err_set_at(ps->err, code, pos, line, col, "%s%s%.*s%s: line %u col %u: %s",
                             name ? name : "", name ? ": " : "", shown, ps->src,
                             ps->len > 160 ? "..." : "", line, col, msg);
    return fl_err_set_at(ps->err, code, pos, line, col, "%s%s%.*s%s: col %u: %s", name ? name : "",
                         name ? ": " : "", shown, ps->src, ps->len > 160 ? "..." : "", col, msg);
}

/* ------------------------------------------------------------------ lexer */

static bool is_ident_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_ident_char(char ch) { return is_ident_start(ch) || is_digit(ch); }

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decode a quoted literal starting at ps->pos (the quote char); sets *out in the arena. */
static fl_rc lex_quoted(fp_parser *ps, char q, fl_str *out)
{
    size_t start = ps->pos;
    size_t i = start + 1;
    bool esc = false;
    while (i < ps->len && ps->src[i] != q) {
        if (ps->src[i] == '\\') {
            esc = true;
            i++;
        }
        i++;
    }
    if (i >= ps->len) return perr(ps, (uint32_t)start, FL_E_FP_SYNTAX, "unterminated %s", q == '`' ? "identifier" : "string");
    size_t end = i;
    ps->pos = end + 1;
    if (!esc) {
        *out = fl_str_make(ps->src + start + 1, end - start - 1);
        return FL_OK;
    }
    char *buf = fl_arena_alloc(&ps->p->arena, end - start + 1);
    if (!buf) return fl_err_set(ps->err, FL_E_NOMEM, "fhirpath: out of memory");
    size_t n = 0;
    for (size_t k = start + 1; k < end; k++) {
        char ch = ps->src[k];
        if (ch != '\\') {
            buf[n++] = ch;
            continue;
        }
        k++;
        char e = ps->src[k];
        switch (e) {
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'u': {
            uint32_t cp = 0;
            for (int d = 1; d <= 4; d++) {
                int hv = k + (size_t)d < end ? hexval(ps->src[k + (size_t)d]) : -1;
                if (hv < 0) return perr(ps, (uint32_t)k, FL_E_FP_SYNTAX, "bad \\u escape");
                cp = cp * 16 + (uint32_t)hv;
            }
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogate halves */
            n += fl_utf8_encode(cp, buf + n);
            break;
        }
        default: buf[n++] = e; break; /* \' \" \` \\ \/ and unknown escapes keep the char */
        }
    }
    *out = fl_str_make(buf, n);
    return FL_OK;
}

static bool lex_digits(fp_parser *ps, size_t *i, int n)
{
    for (int k = 0; k < n; k++) {
        if (*i >= ps->len || !is_digit(ps->src[*i])) return false;
        (*i)++;
    }
    return true;
}

/* Time part "HH(:MM(:SS(.fff)?)?)?" at *i; sets precision. */
static bool lex_timepart(fp_parser *ps, size_t *i, uint8_t *prec)
{
    if (!lex_digits(ps, i, 2)) return false;
    *prec = FL_FP_PREC_HOUR;
    if (*i < ps->len && ps->src[*i] == ':') {
        (*i)++;
        if (!lex_digits(ps, i, 2)) return false;
        *prec = FL_FP_PREC_MINUTE;
        if (*i < ps->len && ps->src[*i] == ':') {
            (*i)++;
            if (!lex_digits(ps, i, 2)) return false;
            *prec = FL_FP_PREC_SECOND;
            if (*i + 1 < ps->len && ps->src[*i] == '.' && is_digit(ps->src[*i + 1])) {
                (*i)++;
                while (*i < ps->len && is_digit(ps->src[*i])) (*i)++;
                *prec = FL_FP_PREC_MS;
            }
        }
    }
    return true;
}

static fl_rc lex_temporal(fp_parser *ps, fp_tok *t)
{
    size_t start = ps->pos + 1, i = start;
    uint8_t prec = 0;
    if (i < ps->len && ps->src[i] == 'T') {
        i++;
        if (!lex_timepart(ps, &i, &prec)) return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed time literal");
        if (i < ps->len && (ps->src[i] == 'Z' || ps->src[i] == '+' || ps->src[i] == '-'))
            return perr(ps, t->pos, FL_E_FP_SYNTAX, "a time literal cannot have a timezone");
        t->kind = FPT_TIME;
        t->text = fl_str_make(ps->src + start + 1, i - start - 1);
        t->prec = prec;
        ps->pos = i;
        return FL_OK;
    }
    if (!lex_digits(ps, &i, 4)) return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed date literal");
    prec = FL_FP_PREC_YEAR;
    if (i + 1 < ps->len && ps->src[i] == '-' && is_digit(ps->src[i + 1])) {
        i++;
        if (!lex_digits(ps, &i, 2)) return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed date literal");
        prec = FL_FP_PREC_MONTH;
        if (i + 1 < ps->len && ps->src[i] == '-' && is_digit(ps->src[i + 1])) {
            i++;
            if (!lex_digits(ps, &i, 2)) return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed date literal");
            prec = FL_FP_PREC_DAY;
        }
    }
    t->kind = FPT_DATE;
    if (i < ps->len && ps->src[i] == 'T') {
        i++;
        t->kind = FPT_DATETIME;
        if (i < ps->len && is_digit(ps->src[i])) {
            if (!lex_timepart(ps, &i, &prec)) return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed dateTime literal");
            if (i < ps->len && ps->src[i] == 'Z') {
                i++;
            } else if (i + 1 < ps->len && (ps->src[i] == '+' || ps->src[i] == '-') && is_digit(ps->src[i + 1])) {
                i++;
                if (!lex_digits(ps, &i, 2) || i >= ps->len || ps->src[i] != ':') return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed timezone");
                i++;
                if (!lex_digits(ps, &i, 2)) return perr(ps, t->pos, FL_E_FP_SYNTAX, "malformed timezone");
            }
        }
    }
    size_t end = i;
    /* "@2015T" keeps the T out of the value text */
    fl_str txt = fl_str_make(ps->src + start, end - start);
    if (txt.len && txt.ptr[txt.len - 1] == 'T') txt.len--;
    t->text = txt;
    t->prec = prec;
    ps->pos = end;
    return FL_OK;
}

static fl_rc lex_next(fp_parser *ps, fp_tok *t)
{
    fl_rc rc;
    for (;;) {
        while (ps->pos < ps->len && (ps->src[ps->pos] == ' ' || ps->src[ps->pos] == '\t' ||
                                     ps->src[ps->pos] == '\n' || ps->src[ps->pos] == '\r'))
            ps->pos++;
        if (ps->pos + 1 < ps->len && ps->src[ps->pos] == '/' && ps->src[ps->pos + 1] == '/') {
            while (ps->pos < ps->len && ps->src[ps->pos] != '\n') ps->pos++;
            continue;
        }
        if (ps->pos + 1 < ps->len && ps->src[ps->pos] == '/' && ps->src[ps->pos + 1] == '*') {
            size_t s = ps->pos;
            ps->pos += 2;
            while (ps->pos + 1 < ps->len && !(ps->src[ps->pos] == '*' && ps->src[ps->pos + 1] == '/')) ps->pos++;
            if (ps->pos + 1 >= ps->len) return perr(ps, (uint32_t)s, FL_E_FP_SYNTAX, "unterminated comment");
            ps->pos += 2;
            continue;
        }
        break;
    }
    memset(t, 0, sizeof *t);
    t->pos = (uint32_t)ps->pos;
    if (ps->pos >= ps->len) {
        t->kind = FPT_EOF;
        return FL_OK;
    }
    const char *s = ps->src;
    char ch = s[ps->pos];
    if (is_ident_start(ch)) {
        size_t b = ps->pos;
        while (ps->pos < ps->len && is_ident_char(s[ps->pos])) ps->pos++;
        t->kind = FPT_IDENT;
        t->text = fl_str_make(s + b, ps->pos - b);
        return FL_OK;
    }
    if (is_digit(ch)) {
        size_t b = ps->pos;
        while (ps->pos < ps->len && is_digit(s[ps->pos])) ps->pos++;
        t->kind = FPT_INT;
        if (ps->pos + 1 < ps->len && s[ps->pos] == '.' && is_digit(s[ps->pos + 1])) {
            ps->pos++;
            while (ps->pos < ps->len && is_digit(s[ps->pos])) ps->pos++;
            t->kind = FPT_DEC;
        }
        t->text = fl_str_make(s + b, ps->pos - b);
        return FL_OK;
    }
    switch (ch) {
    case '\'':
        t->kind = FPT_STRING;
        return lex_quoted(ps, '\'', &t->text);
    case '`':
        t->kind = FPT_DIDENT;
        return lex_quoted(ps, '`', &t->text);
    case '@':
        return lex_temporal(ps, t);
    case '%':
        ps->pos++;
        t->kind = FPT_EXTVAR;
        if (ps->pos < ps->len && (s[ps->pos] == '`' || s[ps->pos] == '\'')) return lex_quoted(ps, s[ps->pos], &t->text);
        if (ps->pos < ps->len && is_ident_start(s[ps->pos])) {
            size_t b = ps->pos;
            while (ps->pos < ps->len && is_ident_char(s[ps->pos])) ps->pos++;
            t->text = fl_str_make(s + b, ps->pos - b);
            return FL_OK;
        }
        return perr(ps, t->pos, FL_E_FP_SYNTAX, "expected a name after '%%'");
    case '$': {
        ps->pos++;
        size_t b = ps->pos;
        while (ps->pos < ps->len && is_ident_char(s[ps->pos])) ps->pos++;
        t->kind = FPT_DOLLAR;
        t->text = fl_str_make(s + b, ps->pos - b);
        if (!fl_str_eq_c(t->text, "this") && !fl_str_eq_c(t->text, "index") && !fl_str_eq_c(t->text, "total"))
            return perr(ps, t->pos, FL_E_FP_SYNTAX, "unknown special variable '$" FL_STR_FMT "'", FL_STR_ARG(t->text));
        return FL_OK;
    }
    default: break;
    }
    t->kind = FPT_OP;
    size_t n = 1;
    if (ps->pos + 1 < ps->len) {
        char c2 = s[ps->pos + 1];
        if ((ch == '!' && (c2 == '=' || c2 == '~')) || ((ch == '<' || ch == '>') && c2 == '=')) n = 2;
    }
    if (n == 1 && !strchr(".[](){},+-*/&|=~<>", ch)) {
        rc = perr(ps, t->pos, FL_E_FP_SYNTAX, "unexpected character '%c'", (ch >= 32 && ch < 127) ? ch : '?');
        return rc;
    }
    t->text = fl_str_make(s + ps->pos, n);
    ps->pos += n;
    return FL_OK;
}

static fl_rc advance(fp_parser *ps)
{
    if (ps->has_peek) {
        ps->tok = ps->peek;
        ps->has_peek = false;
        return FL_OK;
    }
    return lex_next(ps, &ps->tok);
}

static fl_rc peek_tok(fp_parser *ps, fp_tok **out)
{
    if (!ps->has_peek) {
        fl_rc rc = lex_next(ps, &ps->peek);
        if (rc) return rc;
        ps->has_peek = true;
    }
    *out = &ps->peek;
    return FL_OK;
}

static bool tok_is_op(const fp_tok *t, const char *op) { return t->kind == FPT_OP && fl_str_eq_c(t->text, op); }
static bool tok_is_word(const fp_tok *t, const char *w) { return t->kind == FPT_IDENT && fl_str_eq_c(t->text, w); }

static const char *tok_desc(const fp_tok *t)
{
    switch (t->kind) {
    case FPT_EOF: return "end of expression";
    case FPT_OP: return "operator";
    case FPT_IDENT: return "identifier";
    case FPT_STRING: return "string";
    default: return "literal";
    }
}

/* ------------------------------------------------------------------ AST building */

static fp_node *node_new(fp_parser *ps, fp_op op, uint32_t pos)
{
    fp_node *n = fl_arena_calloc(&ps->p->arena, 1, sizeof *n);
    if (!n) {
        fl_err_set(ps->err, FL_E_NOMEM, "fhirpath: out of memory");
        return NULL;
    }
    n->op = (uint8_t)op;
    n->pos = pos;
    return n;
}

static fl_rc parse_expr(fp_parser *ps, int level, fp_node **out);

static fl_rc enter(fp_parser *ps)
{
    if (++ps->depth > ps->max_depth)
        return perr(ps, ps->tok.pos, FL_E_LIMIT, "expression nested deeper than %u", ps->max_depth);
    return FL_OK;
}

static bool is_calendar_word(fl_str w) { return fp_cal_unit(w).len > 0; }

/* Type specifier from an identifier-path AST (Patient, FHIR.Patient, System.`Integer`). */
static bool node_to_typespec(const fp_node *n, fp_typespec *t)
{
    if (n->op != FPN_MEMBER) return false;
    if (!n->left) {
        t->ns = FL_STR_NULL;
        t->name = n->name;
        return true;
    }
    if (n->left->op == FPN_MEMBER && !n->left->left) {
        t->ns = n->left->name;
        t->name = n->name;
        return true;
    }
    return false;
}

static fl_rc parse_typespec(fp_parser *ps, fp_typespec *t)
{
    fl_rc rc;
    if (ps->tok.kind != FPT_IDENT && ps->tok.kind != FPT_DIDENT)
        return perr(ps, ps->tok.pos, FL_E_FP_SYNTAX, "expected a type name, found %s", tok_desc(&ps->tok));
    t->ns = FL_STR_NULL;
    t->name = ps->tok.text;
    if ((rc = advance(ps))) return rc;
    if (tok_is_op(&ps->tok, ".")) {
        fp_tok *nx;
        if ((rc = peek_tok(ps, &nx))) return rc;
        if (nx->kind == FPT_IDENT || nx->kind == FPT_DIDENT) {
            if ((rc = advance(ps))) return rc;
            t->ns = t->name;
            t->name = ps->tok.text;
            if ((rc = advance(ps))) return rc;
        }
    }
    return FL_OK;
}

static bool builtin_var(fp_parser *ps, fl_str nm)
{
    if (ps->o && ps->o->vars)
        for (size_t i = 0; i < ps->o->nvars; i++)
            if (ps->o->vars[i] && fl_str_eq_c(nm, ps->o->vars[i])) return true;
    static const char *const names[] = {"context", "resource", "rootResource", "ucum", "sct", "loinc"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (fl_str_eq_c(nm, names[i])) return true;
    return fl_str_starts_with(nm, FL_STR("vs-")) || fl_str_starts_with(nm, FL_STR("ext-"));
}

/* defineVariable('name', ...): the name must be a string literal not already visible;
 * it stays visible until the end of the enclosing invocation chain (parse_postfix). */
static fl_rc declare_var(fp_parser *ps, const fp_node *arg)
{
    if (arg->op != FPN_LIT || arg->lit.kind != FL_FP_STR)
        return perr(ps, arg->pos, FL_E_FP_COMPILE, "defineVariable() needs a string literal name");
    fl_str nm = arg->lit.v.s;
    if (nm.len == 0) return perr(ps, arg->pos, FL_E_FP_COMPILE, "defineVariable() needs a non-empty name");
    bool dup = builtin_var(ps, nm);
    for (uint32_t i = 0; i < ps->nscope && !dup; i++) dup = fl_str_eq(ps->scope[i], nm);
    if (dup) return perr(ps, arg->pos, FL_E_FP_COMPILE, "variable '%%" FL_STR_FMT "' is already defined", FL_STR_ARG(nm));
    if (ps->nscope == FP_MAX_DEFINED_VARS)
        return perr(ps, arg->pos, FL_E_LIMIT, "more than %u variables defined", FP_MAX_DEFINED_VARS);
    ps->scope[ps->nscope++] = nm;
    return FL_OK;
}

/* Function call: ps->tok is '(' ; name/pos from the identifier. */
static fl_rc parse_call(fp_parser *ps, fp_node *input, fl_str name, uint32_t pos, fp_node **out)
{
    fl_rc rc;
    fp_node *args[16];
    uint32_t nargs = 0;
    if ((rc = advance(ps))) return rc; /* '(' */
    if (!tok_is_op(&ps->tok, ")")) {
        for (;;) {
            if (nargs >= 16) return perr(ps, ps->tok.pos, FL_E_FP_SYNTAX, "too many arguments");
            if ((rc = parse_expr(ps, 0, &args[nargs]))) return rc;
            nargs++;
            if (tok_is_op(&ps->tok, ",")) {
                if ((rc = advance(ps))) return rc;
                continue;
            }
            break;
        }
    }
    if (!tok_is_op(&ps->tok, ")"))
        return perr(ps, ps->tok.pos, FL_E_FP_SYNTAX, "expected ',' or ')' in call of " FL_STR_FMT "(), found %s",
                    FL_STR_ARG(name), tok_desc(&ps->tok));
    if ((rc = advance(ps))) return rc;
    const fp_fninfo *fi = fhirpath_fn_lookup(name);
    if (!fi) return perr(ps, pos, FL_E_FP_COMPILE, "unknown function '" FL_STR_FMT "'", FL_STR_ARG(name));
    if (nargs < fi->min_args || nargs > fi->max_args)
        return perr(ps, pos, FL_E_FP_COMPILE, "%s() takes %u to %u arguments, got %u", fi->name, fi->min_args,
                    fi->max_args, nargs);
    fp_node *n = node_new(ps, FPN_CALL, pos);
    if (!n) return FL_E_NOMEM;
    n->left = input;
    n->name = name;
    n->fn = fi;
    n->nargs = (uint8_t)nargs;
    if (nargs) {
        n->args = fl_arena_alloc(&ps->p->arena, nargs * sizeof *n->args);
        if (!n->args) return fl_err_set(ps->err, FL_E_NOMEM, "fhirpath: out of memory");
        memcpy(n->args, args, nargs * sizeof *n->args);
    }
    if (fi->type_arg && nargs >= 1) {
        if (!node_to_typespec(args[0], &n->type))
            return perr(ps, args[0]->pos, FL_E_FP_COMPILE, "%s() needs a type name argument", fi->name);
        fp_typespec_resolve(&n->type);
    }
    if (!strcmp(fi->name, "defineVariable")) {
        fl_rc drc = declare_var(ps, args[0]);
        if (drc) return drc;
    }
    *out = n;
    return FL_OK;
}

static fl_rc make_lit(fp_parser *ps, uint32_t pos, fl_fp_item it, fp_node **out)
{
    fp_node *n = node_new(ps, FPN_LIT, pos);
    if (!n) return FL_E_NOMEM;
    n->lit = it;
    switch (it.kind) {
    case FL_FP_BOOL: n->hint = FL_FP_HINT_BOOL; break;
    case FL_FP_INT: n->hint = FL_FP_HINT_INT; break;
    case FL_FP_DEC: n->hint = FL_FP_HINT_DEC; break;
    case FL_FP_STR: n->hint = FL_FP_HINT_STR; break;
    case FL_FP_DATE: n->hint = FL_FP_HINT_DATE; break;
    case FL_FP_DATETIME: n->hint = FL_FP_HINT_DATETIME; break;
    case FL_FP_TIME: n->hint = FL_FP_HINT_TIME; break;
    case FL_FP_QTY: n->hint = FL_FP_HINT_QTY; break;
    default: break;
    }
    *out = n;
    return FL_OK;
}

static fl_rc resolve_var(fp_parser *ps, const fp_tok *t, fp_node **out)
{
    fl_str nm = t->text;
    for (uint32_t i = ps->nscope; i-- > 0;) {
        if (fl_str_eq(ps->scope[i], nm)) {
            fp_node *n = node_new(ps, FPN_DEFVAR, t->pos);
            if (!n) return FL_E_NOMEM;
            n->name = nm;
            *out = n;
            return FL_OK;
        }
    }
    if (ps->o && ps->o->vars) {
        for (size_t i = 0; i < ps->o->nvars; i++) {
            if (ps->o->vars[i] && fl_str_eq_c(nm, ps->o->vars[i])) {
                fp_node *n = node_new(ps, FPN_VAR, t->pos);
                if (!n) return FL_E_NOMEM;
                n->slot = (uint32_t)i;
                n->name = nm;
                *out = n;
                return FL_OK;
            }
        }
    }
    static const char *const ctxvars[] = {"context", "resource", "rootResource"};
    for (uint32_t i = 0; i < 3; i++) {
        if (fl_str_eq_c(nm, ctxvars[i])) {
            fp_node *n = node_new(ps, FPN_CTXVAR, t->pos);
            if (!n) return FL_E_NOMEM;
            n->slot = i;
            *out = n;
            return FL_OK;
        }
    }
    bool strict = ps->o && (ps->o->flags & FL_FP_F_STRICT_VARS);
    const char *val = NULL;
    if (!strict) {
        if (fl_str_eq_c(nm, "ucum")) val = "http://unitsofmeasure.org";
        else if (fl_str_eq_c(nm, "sct")) val = "http://snomed.info/sct";
        else if (fl_str_eq_c(nm, "loinc")) val = "http://loinc.org";
        else if (fl_str_starts_with(nm, FL_STR("vs-")) || fl_str_starts_with(nm, FL_STR("ext-"))) {
            bool vs = nm.ptr[0] == 'v';
            const char *pre = vs ? "http://hl7.org/fhir/ValueSet/" : "http://hl7.org/fhir/StructureDefinition/";
            size_t skip = vs ? 3 : 4;
            char *s = fl_arena_printf(&ps->p->arena, "%s%.*s", pre, (int)(nm.len - skip), nm.ptr + skip);
            if (!s) return fl_err_set(ps->err, FL_E_NOMEM, "fhirpath: out of memory");
            return make_lit(ps, t->pos, fl_fp_item_str(fl_str_c(s)), out);
        }
    }
    if (val) return make_lit(ps, t->pos, fl_fp_item_str(fl_str_c(val)), out);
    return perr(ps, t->pos, FL_E_FP_COMPILE, "unknown variable '%%" FL_STR_FMT "'", FL_STR_ARG(nm));
}

/* term := literal | '(' expr ')' | '{' '}' | %var | $this | ident | ident(args) */
static fl_rc parse_term(fp_parser *ps, fp_node **out)
{
    fl_rc rc;
    fp_tok t = ps->tok;
    switch (t.kind) {
    case FPT_EOF:
        return perr(ps, t.pos, FL_E_FP_SYNTAX, "expected an expression, found end of expression");
    case FPT_STRING:
        if ((rc = advance(ps))) return rc;
        return make_lit(ps, t.pos, fl_fp_item_str(t.text), out);
    case FPT_INT:
    case FPT_DEC: {
        if ((rc = advance(ps))) return rc;
        fl_fp_item it;
        if (t.kind == FPT_INT) {
            int64_t v;
            if (!fl_parse_i64(t.text, &v)) return perr(ps, t.pos, FL_E_FP_SYNTAX, "integer literal out of range");
            it = fl_fp_item_int(v);
        } else {
            fp_dec d;
            if (!fp_dec_parse(t.text, &d)) return perr(ps, t.pos, FL_E_FP_SYNTAX, "decimal literal out of range");
            it = fl_fp_item_dec(t.text);
        }
        /* quantity: number followed by a unit string or a calendar word */
        if (ps->tok.kind == FPT_STRING || (ps->tok.kind == FPT_IDENT && is_calendar_word(ps->tok.text))) {
            fl_fp_item q;
            memset(&q, 0, sizeof q);
            q.kind = FL_FP_QTY;
            q.v.q.value = t.text;
            q.v.q.unit = ps->tok.text;
            if (ps->tok.kind == FPT_IDENT) q.flags_ = FPF_CALUNIT;
            if ((rc = advance(ps))) return rc;
            return make_lit(ps, t.pos, q, out);
        }
        return make_lit(ps, t.pos, it, out);
    }
    case FPT_DATE:
    case FPT_DATETIME:
    case FPT_TIME: {
        if ((rc = advance(ps))) return rc;
        fl_fp_item it;
        memset(&it, 0, sizeof it);
        it.kind = (uint8_t)(t.kind == FPT_DATE ? FL_FP_DATE : t.kind == FPT_DATETIME ? FL_FP_DATETIME : FL_FP_TIME);
        it.v.s = t.text;
        it.prec = t.prec;
        fp_dt dt;
        if (!fp_dt_parse(t.text, (fl_fp_kind)it.kind, &dt))
            return perr(ps, t.pos, FL_E_FP_SYNTAX, "invalid date/time literal");
        return make_lit(ps, t.pos, it, out);
    }
    case FPT_EXTVAR:
        if ((rc = advance(ps))) return rc;
        return resolve_var(ps, &t, out);
    case FPT_DOLLAR: {
        if ((rc = advance(ps))) return rc;
        fp_op op = fl_str_eq_c(t.text, "this") ? FPN_THIS : fl_str_eq_c(t.text, "index") ? FPN_INDEXVAR : FPN_TOTAL;
        fp_node *n = node_new(ps, op, t.pos);
        if (!n) return FL_E_NOMEM;
        *out = n;
        return FL_OK;
    }
    case FPT_OP:
        if (tok_is_op(&t, "(")) {
            if ((rc = advance(ps))) return rc;
            if ((rc = parse_expr(ps, 0, out))) return rc;
            if (!tok_is_op(&ps->tok, ")"))
                return perr(ps, ps->tok.pos, FL_E_FP_SYNTAX, "expected ')', found %s", tok_desc(&ps->tok));
            return advance(ps);
        }
        if (tok_is_op(&t, "{")) {
            if ((rc = advance(ps))) return rc;
            if (!tok_is_op(&ps->tok, "}")) return perr(ps, ps->tok.pos, FL_E_FP_SYNTAX, "expected '}' (only {} is allowed)");
            if ((rc = advance(ps))) return rc;
            fp_node *n = node_new(ps, FPN_EMPTY, t.pos);
            if (!n) return FL_E_NOMEM;
            *out = n;
            return FL_OK;
        }
        return perr(ps, t.pos, FL_E_FP_SYNTAX, "expected an expression, found '" FL_STR_FMT "'", FL_STR_ARG(t.text));
    case FPT_IDENT:
    case FPT_DIDENT: {
        if (t.kind == FPT_IDENT && (fl_str_eq_c(t.text, "true") || fl_str_eq_c(t.text, "false"))) {
            if ((rc = advance(ps))) return rc;
            return make_lit(ps, t.pos, fl_fp_item_bool(t.text.ptr[0] == 't'), out);
        }
        if ((rc = advance(ps))) return rc;
        if (t.kind == FPT_IDENT && tok_is_op(&ps->tok, "(")) return parse_call(ps, NULL, t.text, t.pos, out);
        fp_node *n = node_new(ps, FPN_MEMBER, t.pos);
        if (!n) return FL_E_NOMEM;
        n->name = t.text;
        /* a leading type name ("Patient.name") is resolved once here; slot = type id */
        if (t.text.len && t.text.ptr[0] >= 'A' && t.text.ptr[0] <= 'Z') {
            uint16_t tid = fp_type_id(t.text);
            if (tid && (fp_type_is_resource(tid) || !fp_type_kind(tid))) n->slot = tid;
        }
        *out = n;
        return FL_OK;
    }
    }
    return perr(ps, t.pos, FL_E_FP_SYNTAX, "unexpected token");
}

static fl_rc parse_postfix(fp_parser *ps, fp_node **out)
{
    fl_rc rc;
    fp_node *n;
    uint32_t scope0 = ps->nscope;
    if ((rc = parse_term(ps, &n))) return rc;
    for (;;) {
        if (tok_is_op(&ps->tok, ".")) {
            if ((rc = advance(ps))) return rc;
            fp_tok t = ps->tok;
            if (t.kind != FPT_IDENT && t.kind != FPT_DIDENT)
                return perr(ps, t.pos, FL_E_FP_SYNTAX, "expected a name after '.', found %s", tok_desc(&t));
            if ((rc = advance(ps))) return rc;
            if (t.kind == FPT_IDENT && tok_is_op(&ps->tok, "(")) {
                if ((rc = parse_call(ps, n, t.text, t.pos, &n))) return rc;
            } else {
                fp_node *m = node_new(ps, FPN_MEMBER, t.pos);
                if (!m) return FL_E_NOMEM;
                m->left = n;
                m->name = t.text;
                n = m;
            }
        } else if (tok_is_op(&ps->tok, "[")) {
            uint32_t pos = ps->tok.pos;
            if ((rc = advance(ps))) return rc;
            fp_node *ix;
            if ((rc = parse_expr(ps, 0, &ix))) return rc;
            if (!tok_is_op(&ps->tok, "]")) return perr(ps, ps->tok.pos, FL_E_FP_SYNTAX, "expected ']', found %s", tok_desc(&ps->tok));
            if ((rc = advance(ps))) return rc;
            fp_node *m = node_new(ps, FPN_INDEX, pos);
            if (!m) return FL_E_NOMEM;
            m->left = n;
            m->right = ix;
            n = m;
        } else {
            break;
        }
    }
    if (ps->nscope > scope0) {
        /* the chain defined variables: they end with it */
        ps->nscope = scope0;
        n->restore_vars = 1;
    }
    *out = n;
    return FL_OK;
}

static fl_rc parse_unary(fp_parser *ps, fp_node **out)
{
    fl_rc rc;
    if (tok_is_op(&ps->tok, "-") || tok_is_op(&ps->tok, "+")) {
        fp_tok t = ps->tok;
        if ((rc = enter(ps))) return rc;
        if ((rc = advance(ps))) return rc;
        fp_node *inner;
        if ((rc = parse_unary(ps, &inner))) return rc;
        ps->depth--;
        if (t.text.ptr[0] == '+') {
            *out = inner;
            return FL_OK;
        }
        fp_node *n = node_new(ps, FPN_NEG, t.pos);
        if (!n) return FL_E_NOMEM;
        n->left = inner;
        *out = n;
        return FL_OK;
    }
    return parse_postfix(ps, out);
}

/* Binary operator levels, loosest first. */
enum { LV_IMPLIES, LV_OR, LV_AND, LV_MEMBERSHIP, LV_EQUALITY, LV_INEQUALITY, LV_UNION, LV_TYPE, LV_ADD, LV_MUL, LV_UNARY };

static fp_op binop_at(const fp_tok *t, int level)
{
    switch (level) {
    case LV_IMPLIES: return tok_is_word(t, "implies") ? FPN_IMPLIES : 0;
    case LV_OR: return tok_is_word(t, "or") ? FPN_OR : tok_is_word(t, "xor") ? FPN_XOR : 0;
    case LV_AND: return tok_is_word(t, "and") ? FPN_AND : 0;
    case LV_MEMBERSHIP: return tok_is_word(t, "in") ? FPN_IN : tok_is_word(t, "contains") ? FPN_CONTAINS : 0;
    case LV_EQUALITY:
        return tok_is_op(t, "=") ? FPN_EQ : tok_is_op(t, "!=") ? FPN_NE : tok_is_op(t, "~") ? FPN_EQUIV : tok_is_op(t, "!~") ? FPN_NEQUIV : 0;
    case LV_INEQUALITY:
        return tok_is_op(t, "<") ? FPN_LT : tok_is_op(t, "<=") ? FPN_LE : tok_is_op(t, ">") ? FPN_GT : tok_is_op(t, ">=") ? FPN_GE : 0;
    case LV_UNION: return tok_is_op(t, "|") ? FPN_UNION : 0;
    case LV_TYPE: return tok_is_word(t, "is") ? FPN_IS : tok_is_word(t, "as") ? FPN_AS : 0;
    case LV_ADD: return tok_is_op(t, "+") ? FPN_ADD : tok_is_op(t, "-") ? FPN_SUB : tok_is_op(t, "&") ? FPN_CONCAT : 0;
    case LV_MUL:
        return tok_is_op(t, "*") ? FPN_MUL : tok_is_op(t, "/") ? FPN_DIV : tok_is_word(t, "div") ? FPN_IDIV : tok_is_word(t, "mod") ? FPN_MOD : 0;
    default: return 0;
    }
}

static fl_rc parse_expr(fp_parser *ps, int level, fp_node **out)
{
    fl_rc rc;
    if ((rc = enter(ps))) return rc;
    fp_node *lhs;
    if (level >= LV_UNARY) rc = parse_unary(ps, &lhs);
    else rc = parse_expr(ps, level + 1, &lhs);
    if (rc) return rc;
    for (;;) {
        fp_op op = binop_at(&ps->tok, level);
        if (!op) break;
        uint32_t pos = ps->tok.pos;
        if ((rc = advance(ps))) return rc;
        fp_node *n = node_new(ps, op, pos);
        if (!n) return FL_E_NOMEM;
        n->left = lhs;
        if (op == FPN_IS || op == FPN_AS) {
            if ((rc = parse_typespec(ps, &n->type))) return rc;
            fp_typespec_resolve(&n->type);
            n->hint = op == FPN_IS ? FL_FP_HINT_BOOL : 0;
        } else {
            if ((rc = parse_expr(ps, level + 1, &n->right))) return rc;
        }
        lhs = n;
    }
    ps->depth--;
    *out = lhs;
    return FL_OK;
}

fl_rc fhirpath_parse(fl_fp_prog *p, const fl_fp_opts *o, fl_err *err)
{
    fp_parser ps;
    memset(&ps, 0, sizeof ps);
    ps.p = p;
    ps.o = o;
    ps.err = err;
    ps.src = p->expr;
    ps.len = p->expr_len;
    ps.max_depth = o && o->max_depth ? o->max_depth : FL_FP_MAX_AST_DEPTH;
    fl_rc rc = advance(&ps);
    if (rc) return rc;
    if (ps.tok.kind == FPT_EOF) return perr(&ps, 0, FL_E_FP_SYNTAX, "empty expression");
    if ((rc = parse_expr(&ps, 0, &p->root))) return rc;
    if (ps.tok.kind != FPT_EOF)
        return perr(&ps, ps.tok.pos, FL_E_FP_SYNTAX, "unexpected %s '" FL_STR_FMT "' after the expression",
                    tok_desc(&ps.tok), FL_STR_ARG(ps.tok.text));
    return FL_OK;
}
