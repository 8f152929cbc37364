/* cli/cmd_convert.c - `clipsearch convert`: pytorch_model.bin -> model.safetensors. */
#include <getopt.h>

#include "cli.h"

extern const cs_cli_command cs_cmd_convert;

static int run(int argc, char **argv) {
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'}, {"force", no_argument, NULL, 'f'}, {0, 0, 0, 0}};
    const char *model = NULL;
    int force = 0, c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'm')
            model = optarg;
        else if (c == 'f')
            force = 1;
        else
            return cli_usage(&cs_cmd_convert);
    }
    if (optind != argc) return cli_usage(&cs_cmd_convert);
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
