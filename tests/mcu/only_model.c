/*
 * only_model.c - the model alone, for measuring what it costs in flash and RAM
 * (arm-none-eabi-size): model.c's two functions, kept by a caller that the
 * linker cannot drop.
 */
#include "model.c"

int run_model(const float *x, int8_t *q, int8_t *out);

int run_model(const float *x, int8_t *q, int8_t *out)
{
    model_quantize_inputs(x, q);
    return model_predict_int8(q, out);
}
