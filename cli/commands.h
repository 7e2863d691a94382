/*
 * commands.h - the program's commands, one cli_command each, defined in the
 * cmd_*.c files and listed by main.c. A new command is a new cmd_*.c file, a
 * line here and an entry in main.c's table.
 */
#ifndef BP_CLI_COMMANDS_H
#define BP_CLI_COMMANDS_H

#include "args.h"

extern const cli_command cmd_init, cmd_info;          /* cmd_model.c */
extern const cli_command cmd_grad, cmd_gradcheck;     /* cmd_grad.c */
extern const cli_command cmd_explain;                 /* cmd_explain.c */
extern const cli_command cmd_train;                   /* cmd_train.c */
extern const cli_command cmd_eval, cmd_predict;       /* cmd_eval.c */
extern const cli_command cmd_convert;                 /* cmd_convert.c */
extern const cli_command cmd_export_c, cmd_export_onnx; /* cmd_export.c */
extern const cli_command cmd_demo;                    /* cmd_demo.c */

#endif
