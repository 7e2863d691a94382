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

/* The names both C writers generate are NAME followed by a fixed tail, NAME exactly as
   given (C identifiers are case-sensitive, so "x" and "X" stay apart): the guards
   NAME_FLOAT_H and NAME_INT8_H, the macros NAME_INPUTS, NAME_OUTPUTS, NAME_UNUSED and (int8)
   NAME_INPUT_SCALE, NAME_INPUT_ZERO, NAME_OUTPUT_SCALE, NAME_OUTPUT_ZERO, and lower-case or
   numbered tails for functions and constants (NAME_predict, NAME_W1, ...). Every tail begins
   with '_' and none is the end of another (there is no NAME_SCALE beside NAME_INPUT_SCALE),
   so two different names never produce the same identifier: if a + t = b + u with a != b,
   the shorter of t and u would be the end of the longer. The two kinds of one name differ
   in their guards but share NAME_W1 and the like, so a program that wants both gives them
   two names; the compiler then says which constant is defined twice, where a shared guard
   had silently skipped the second file. tests/int8-test.sh compiles the pairs that collided. */

/* text inside a C comment: bytes outside printable ASCII as \xNN, and a star before a
   slash followed by a backslash, so that no path or name can end the comment early. */
void bp_export_c_comment_text(bp_buffer *b, const char *text);

/* NAME_class_names, the model's class names as C strings, when it has them. */
void bp_export_c_class_names(bp_buffer *b, const bp_net *net, const char *name);

/* The float C of net, appended to out. */
bp_status bp_export_c_float(const bp_net *net, const char *name, const char *source, bp_buffer *out, bp_error *err);

#endif
