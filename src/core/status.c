/*
 * status.c - status messages, error details and the names of enum values.
 *
 * The library reports and never prints: this file turns codes into text the
 * caller can show. Mapping names to values for the command line lives here too
 * so that the CLI, model files and docs all spell them the same way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

const char *bp_status_message(bp_status status)
{
    switch (status) {
    case BP_OK: return "success";
    case BP_ERR_ARG: return "invalid argument";
    case BP_ERR_NOMEM: return "out of memory or size too large";
    case BP_ERR_IO: return "input/output error";
    case BP_ERR_FORMAT: return "malformed or damaged file";
    case BP_ERR_UNSUPPORTED: return "not supported";
    case BP_ERR_NUMERIC: return "not a finite number";
    }
    return "unknown status";
}

bp_status bp_fail(bp_error *err, bp_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

static const char *const activation_names[] = {"identity", "sigmoid", "tanh",
                                               "relu", "leaky-relu", "softmax"};
static const char *const loss_names[] = {"mse", "ce", "bce"};
static const char *const reduction_names[] = {"mean", "sum"};
static const char *const optimizer_names[] = {"sgd", "momentum", "nesterov", "adam", "adamw", "rprop", "lbfgs"};
static const char *const schedule_names[] = {"constant", "step", "cosine"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *bp_activation_name(bp_activation act)
{
    return (unsigned)act < COUNT(activation_names) ? activation_names[act] : "unknown";
}

const char *bp_loss_name(bp_loss loss)
{
    return (unsigned)loss < COUNT(loss_names) ? loss_names[loss] : "unknown";
}

const char *bp_reduction_name(bp_reduction reduction)
{
    return (unsigned)reduction < COUNT(reduction_names) ? reduction_names[reduction] : "unknown";
}

static bp_status find_name(const char *name, const char *const *names, size_t n, int *out)
{
    if (!name) return BP_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return BP_OK;
        }
    }
    return BP_ERR_ARG;
}

bp_status bp_activation_parse(const char *name, bp_activation *out)
{
    int v = 0;
    bp_status s = find_name(name, activation_names, COUNT(activation_names), &v);
    if (s == BP_OK && out) *out = (bp_activation)v;
    /* Common aliases people type. */
    if (s != BP_OK && name && (strcmp(name, "linear") == 0 || strcmp(name, "none") == 0)) {
        if (out) *out = BP_ACT_IDENTITY;
        s = BP_OK;
    }
    if (s != BP_OK && name && (strcmp(name, "leaky_relu") == 0 || strcmp(name, "leakyrelu") == 0)) {
        if (out) *out = BP_ACT_LEAKY_RELU;
        s = BP_OK;
    }
    return s;
}

bp_status bp_loss_parse(const char *name, bp_loss *out)
{
    int v = 0;
    bp_status s = find_name(name, loss_names, COUNT(loss_names), &v);
    if (s == BP_OK && out) *out = (bp_loss)v;
    return s;
}

bp_status bp_reduction_parse(const char *name, bp_reduction *out)
{
    int v = 0;
    bp_status s = find_name(name, reduction_names, COUNT(reduction_names), &v);
    if (s == BP_OK && out) *out = (bp_reduction)v;
    return s;
}

const char *bp_optimizer_name(bp_optimizer opt)
{
    return (unsigned)opt < COUNT(optimizer_names) ? optimizer_names[opt] : "unknown";
}

const char *bp_schedule_name(bp_schedule schedule)
{
    return (unsigned)schedule < COUNT(schedule_names) ? schedule_names[schedule] : "unknown";
}

bp_status bp_optimizer_parse(const char *name, bp_optimizer *out)
{
    int v = 0;
    bp_status s = find_name(name, optimizer_names, COUNT(optimizer_names), &v);
    if (s == BP_OK && out) *out = (bp_optimizer)v;
    return s;
}

bp_status bp_schedule_parse(const char *name, bp_schedule *out)
{
    int v = 0;
    bp_status s = find_name(name, schedule_names, COUNT(schedule_names), &v);
    if (s == BP_OK && out) *out = (bp_schedule)v;
    return s;
}
