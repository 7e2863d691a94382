/*
 * export_c.h - a network as one dependency-free float C file (export_c.c), and
 * the rule for the names both C writers generate. bp_net_export (export.c) is
 * the public door.
 */
#ifndef BP_EXPORT_C_H
#define BP_EXPORT_C_H

#include "backprop.h"
#include "io/fileio.h"

/* Whether name can prefix the generated identifiers: a C identifier of at most 64
   characters. Otherwise err says why. */
bp_status bp_export_check_name(const char *name, bp_error *err);

/* name in upper case, for macros (upper holds 65 bytes). */
void bp_export_c_upper(const char *name, char *upper);

/* text inside a C comment: bytes outside printable ASCII as \xNN, and a star before a
   slash followed by a backslash, so that no path or name can end the comment early. */
void bp_export_c_comment_text(bp_buffer *b, const char *text);

/* NAME_class_names, the model's class names as C strings, when it has them. */
void bp_export_c_class_names(bp_buffer *b, const bp_net *net, const char *name);

/* The float C of net, appended to out. */
bp_status bp_export_c_float(const bp_net *net, const char *name, const char *source, bp_buffer *out, bp_error *err);

#endif
