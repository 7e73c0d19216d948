/* axes.c — parsing of axis sweeps: "256:16384:x2", "0:100:+25", "1K,4K,2^20", "bf16,fp32".
 * Numbers may carry K/M/G (powers of 1024) or be written 2^k. Every error names the axis,
 * the offending token and, for string axes, the valid choices. */
#include "accelbench.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parse one number token; false if it is not one. */
static bool parse_number(const char *tok, double *out)
{
    while (isspace((unsigned char)*tok))
        tok++;
    if (tok[0] == '2' && tok[1] == '^') {
        char *end;
        errno = 0;
        long e = strtol(tok + 2, &end, 10);
        if (end == tok + 2 || *end != '\0' || errno || e < 0 || e > 1023)
            return false;
        *out = ldexp(1.0, (int)e); /* the axis's range says whether it is too large */
        return true;
    }
    /* strtod also reads hexadecimal ("0x10" would be 16), "inf" and "nan": none is meant here. */
    const char *digits = tok + (*tok == '+' || *tok == '-');
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        return false;
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    /* ERANGE with a non-zero result is a subnormal (1e-320): a number all the same. */
    if (end == tok || (errno && !(errno == ERANGE && v != 0 && isfinite(v))) || !isfinite(v))
        return false;
    double mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024.0, end++;
    else if (*end == 'M')
        mult = 1024.0 * 1024.0, end++;
    else if (*end == 'G')
        mult = 1024.0 * 1024.0 * 1024.0, end++;
    if (*end != '\0')
        return false;
    *out = v * mult;
    return true;
}

static bool in_choices(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    const char *s = choices;
    while (*s) {
        const char *c = strchr(s, ',');
        size_t l = c ? (size_t)(c - s) : strlen(s);
        if (l == vl && strncmp(s, v, l) == 0)
            return true;
        if (!c)
            break;
        s = c + 1;
    }
    return false;
}

/* A number as a person writes it: whole numbers in full (16777216, not 1.67772e+07). */
static const char *fmt_num(double v, char *buf, size_t len)
{
    if (v == floor(v) && fabs(v) < 1e18)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.10g", v);
    return buf;
}

static ab_status add_number(const struct ab_axis *axis, double v, const char *tok, struct ab_values *out,
                            struct ab_error *err)
{
    char a[40], b[40], c[40];
    if (axis->type == AB_AXIS_INT && v != floor(v))
        return ab_fail(err, AB_EINVAL, "axis %s: \"%s\" is not a whole number", axis->name, tok);
    /* Whole numbers past 2^53 are not exact in a double, nor safe to turn into int64. */
    if (axis->type == AB_AXIS_INT && fabs(v) > 9007199254740992.0)
        return ab_fail(err, AB_EINVAL, "axis %s: %s is too large (at most 2^53)", axis->name,
                       fmt_num(v, a, sizeof a));
    if ((axis->min != 0 || axis->max != 0) && (v < axis->min || v > axis->max)) {
        fmt_num(v, a, sizeof a);
        bool from_range = strcmp(tok, a) != 0 && strchr(tok, ':');
        return ab_fail(err, AB_EINVAL, "axis %s: %s%s%s%s is out of range [%s, %s]", axis->name, a,
                       from_range ? " (from " : "", from_range ? tok : "", from_range ? ")" : "",
                       fmt_num(axis->min, b, sizeof b), fmt_num(axis->max, c, sizeof c));
    }
    if (out->n >= AB_MAX_VALUES)
        return ab_fail(err, AB_EINVAL, "axis %s: more than %d values", axis->name, AB_MAX_VALUES);
    for (int i = 0; i < out->n; i++)
        if (out->v[i].num == v)
            return AB_OK; /* a repeated value would duplicate cases */
    struct ab_value *val = &out->v[out->n++];
    val->num = v;
    if (axis->type == AB_AXIS_INT)
        snprintf(val->str, sizeof val->str, "%.0f", v);
    else
        snprintf(val->str, sizeof val->str, "%.10g", v);
    return AB_OK;
}

static ab_status parse_range(const struct ab_axis *axis, char *tok, struct ab_values *out,
                             struct ab_error *err)
{
    char whole[128];
    snprintf(whole, sizeof whole, "%s", tok);
    char *a = tok, *b = strchr(a, ':');
    *b++ = '\0';
    char *c = strchr(b, ':');
    if (!c)
        return ab_fail(err, AB_EINVAL,
                       "axis %s: range \"%s:%s\" needs a step: START:STOP:xFACTOR or START:STOP:+STEP",
                       axis->name, a, b);
    *c++ = '\0';
    double lo, hi, step;
    if (!parse_number(a, &lo))
        return ab_fail(err, AB_EINVAL, "axis %s: \"%s\" is not a number", axis->name, a);
    if (!parse_number(b, &hi))
        return ab_fail(err, AB_EINVAL, "axis %s: \"%s\" is not a number", axis->name, b);
    bool geometric = (*c == 'x' || *c == '*');
    if (!geometric && *c != '+')
        return ab_fail(err, AB_EINVAL, "axis %s: step \"%s\" must be xFACTOR or +STEP", axis->name, c);
    if (!parse_number(c + 1, &step))
        return ab_fail(err, AB_EINVAL, "axis %s: step \"%s\" is not a number", axis->name, c);
    if (hi < lo)
        return ab_fail(err, AB_EINVAL, "axis %s: range %s:%s runs backwards", axis->name, a, b);
    if (geometric ? (step <= 1.0 || lo <= 0) : step <= 0)
        return ab_fail(err, AB_EINVAL, "axis %s: step %s%s would never reach %s", axis->name,
                       geometric ? "x" : "+", c + 1, b);
    /* Tolerate rounding at the top end: 256:16384:x2 must include 16384. */
    for (int i = 0;; i++) {
        double v = geometric ? lo * pow(step, i) : lo + step * i;
        if (axis->type == AB_AXIS_INT)
            v = round(v);
        if (v > hi * (1 + 1e-12))
            break;
        ab_status st = add_number(axis, v, whole, out, err);
        if (st != AB_OK)
            return st;
        if (i >= AB_MAX_VALUES)
            return ab_fail(err, AB_EINVAL, "axis %s: range gives more than %d values", axis->name,
                           AB_MAX_VALUES);
    }
    return AB_OK;
}

ab_status ab_axis_parse(const struct ab_axis *axis, const char *sweep, struct ab_values *out,
                        struct ab_error *err)
{
    out->n = 0;
    if (!sweep || !*sweep)
        return ab_fail(err, AB_EINVAL, "axis %s: empty value list", axis->name);
    size_t len = strlen(sweep);
    char *buf = malloc(len + 1);
    if (!buf)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    memcpy(buf, sweep, len + 1);
    ab_status st = AB_OK;
    /* strtok_r skips empty items; "1,,2" is a typo, not the list 1,2. */
    if (sweep[0] == ',' || sweep[len - 1] == ',' || strstr(sweep, ",,")) {
        free(buf);
        return ab_fail(err, AB_EINVAL, "axis %s: empty item in \"%s\"", axis->name, sweep);
    }
    char *save = NULL;
    int tokens = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok && st == AB_OK; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t tl = strlen(tok);
        while (tl && isspace((unsigned char)tok[tl - 1]))
            tok[--tl] = '\0';
        if (!tl) {
            st = ab_fail(err, AB_EINVAL, "axis %s: empty item in \"%s\"", axis->name, sweep);
            break;
        }
        tokens++;
        if (axis->type == AB_AXIS_STR) {
            if (axis->choices && !in_choices(axis->choices, tok)) {
                st = ab_fail(err, AB_EINVAL, "axis %s: unknown value \"%s\" (valid: %s)", axis->name, tok,
                             axis->choices);
                break;
            }
            if (tl >= sizeof out->v[0].str) {
                st = ab_fail(err, AB_EINVAL,
                             "axis %s: value \"%.40s...\" has %zu characters, more than the limit of %d",
                             axis->name, tok, tl, AB_VALUE_MAX - 1);
                break;
            }
            bool dup = false;
            for (int i = 0; i < out->n; i++)
                dup |= strcmp(out->v[i].str, tok) == 0;
            if (dup)
                continue;
            if (out->n >= AB_MAX_VALUES) {
                st = ab_fail(err, AB_EINVAL, "axis %s: more than %d values", axis->name, AB_MAX_VALUES);
                break;
            }
            snprintf(out->v[out->n].str, sizeof out->v[0].str, "%s", tok);
            out->v[out->n].num = 0;
            out->n++;
        } else if (strchr(tok, ':')) {
            st = parse_range(axis, tok, out, err);
        } else {
            double v;
            if (!parse_number(tok, &v))
                st = ab_fail(err, AB_EINVAL, "axis %s: \"%s\" is not a number", axis->name, tok);
            else
                st = add_number(axis, v, tok, out, err);
        }
    }
    free(buf);
    if (st == AB_OK && tokens == 0)
        st = ab_fail(err, AB_EINVAL, "axis %s: empty value list", axis->name);
    else if (st == AB_OK && out->n == 0) /* a range with no whole number in it: 0.5:0.5:+2 */
        st = ab_fail(err, AB_EINVAL, "axis %s: \"%s\" gives no values", axis->name, sweep);
    return st;
}
