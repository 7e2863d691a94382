/*
 * main.c - runs an int8 model from `backprop export-c --int8` on the samples in
 * samples.h and prints, per sample, the class and the int8 outputs: built for a
 * Cortex-M4 (run under QEMU with semihosting) and for the host, the two must
 * print the same text (tests/mcu-test.sh).
 *
 * model.c names its functions and macros with the prefix "model".
 */
#include <stdio.h>

#include "model.c"
#include "samples.h"

int main(void)
{
    static int8_t q[model_INPUTS];
    int8_t out[model_OUTPUTS];
    int s, i;
    for (s = 0; s < SAMPLES; s++) {
        int k;
        model_quantize_inputs(samples[s], q);
        k = model_predict_int8(q, out);
        printf("%d:", k);
        for (i = 0; i < model_OUTPUTS; i++) printf(" %d", out[i]);
        printf("\n");
    }
    printf("done %d samples\n", SAMPLES);
    return 0;
}
