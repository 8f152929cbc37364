/* cli/cmd_convert.c - `clipsearch convert`: pytorch_model.bin -> model.safetensors. */
#include <string.h>

#include "cli.h"

extern const cs_cli_command cs_cmd_convert;

static int run(int argc, char **argv) {
    const char *model = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--force"))
            force = 1;
        else
            return cli_usage(&cs_cmd_convert);
    }
    model = cli_resolve_model(model);
    if (!model) return CLI_FAIL;
    cs_error err = {0};
    if (cs_model_convert(model, force, &err) != CS_OK) return cli_fail(&err);
    printf("%s: model.safetensors is ready\n", model);
    return CLI_OK;
}

const cs_cli_command cs_cmd_convert = {
    "convert", "write model.safetensors from a PyTorch checkpoint, once",
    "usage: clipsearch convert --model DIR [--force]\n"
    "\n"
    "Reads DIR/pytorch_model.bin (PyTorch's zip format; only a state dict of\n"
    "tensors is accepted, nothing in it is executed), checks every tensor\n"
    "against DIR/config.json and writes DIR/model.safetensors atomically, so\n"
    "later runs memory-map the weights instead of parsing the pickle.\n"
    "Nothing is done when model.safetensors already exists, unless --force.\n"
    "\n"
    "  --model DIR   the model folder (default: $CLIPSEARCH_MODEL)\n"
    "  --force       convert even if model.safetensors exists\n",
    run};
