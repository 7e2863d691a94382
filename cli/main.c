/*
 * main.c - the `backprop` program: picks the command and runs it.
 *
 * Each command lives in its own file (cmd_*.c) and is described by a
 * cli_command table entry; this file only dispatches and prints the overview.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "mpi.h"

#ifndef BP_VERSION
#define BP_VERSION "unknown" /* the Makefile passes VERSION */
#endif

static const cli_command *const commands[] = {
    &cmd_demo, &cmd_train, &cmd_eval, &cmd_predict, &cmd_init, &cmd_info,
    &cmd_grad, &cmd_gradcheck, &cmd_explain, &cmd_convert, &cmd_export_c, &cmd_export_onnx,
};

static void overview(FILE *f)
{
    fprintf(f, "backprop %s - train fully connected neural networks by backpropagation\n\n"
               "usage: backprop COMMAND [options]\n\ncommands:\n",
            BP_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\n'backprop COMMAND --help' describes a command and all its options.\n");
}

/* A write error on stdout (a full disk, a closed pipe) must not pass as success: the
   command's status, or EXIT_FAILED after a message when what it printed was lost. */
static int finish(const char *name, int code)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "backprop%s%s: error writing the output\n", name ? " " : "", name ? name : "");
        return EXIT_FAILED;
    }
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        overview(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        overview(stdout);
        return finish(NULL, EXIT_OK);
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("backprop %s\n", BP_VERSION);
        /* The products this CPU gets (--precision). */
        const char *bf16 = bp_precision_kernel(BP_PRECISION_BF16);
        printf("products: fp32 %s; bf16 %s\n", bp_precision_kernel(BP_PRECISION_FP32),
               bf16 ? bf16 : "none here (no AMX-BF16 or AVX512_BF16; --precision bf16-emulated runs it in C)");
        return finish(NULL, EXIT_OK);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const cli_command *cmd = commands[i];
        if (strcmp(name, cmd->name) != 0) continue;
        cli_args args;
        int code = cli_parse(cmd, argc - 2, argv + 2, &args);
        if (code >= 0) return finish(cmd->name, code); /* --help, or a usage error */
        cli_mpi_init(&argc, &argv);
        code = cmd->run(&args);
        cli_mpi_finish();
        return finish(cmd->name, code);
    }
    fprintf(stderr, "backprop: unknown command '%s'\n\n", name);
    overview(stderr);
    return EXIT_USAGE;
}
