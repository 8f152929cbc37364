/* cli/model_arg.c - the --model value of every command, as a local folder. */
#include "cli.h"

const char *cli_resolve_model(const char *opt) {
    static char dir[4096];
    const char *name = cli_model_arg(opt);
    cs_error err;
    if (cs_hub_resolve(name, NULL, dir, sizeof dir, &err) == CS_OK) return dir;
    if (err.status == CS_ENOTFOUND)
        cli_error("%s\n  download it with `clipsearch models download %s`, or point --model DIR"
                  " (or CLIPSEARCH_MODEL=DIR)\n  at a local Hugging Face model folder",
                  err.message, name ? name : cs_hub_default_model());
    else
        cli_error("%s", err.message);
    return NULL;
}
