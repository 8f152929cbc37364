/* tests/hub/test_resolve.c - model names to folders, without network: repo
 * id rules, the cache folders' precedence (huggingface_hub's constants.py:
 * HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/
 * huggingface/hub, ~/.cache/huggingface/hub), our cache before the Hugging
 * Face one, refs/main, unfinished downloads, sentence-transformers folders. */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char root[256];

static void put(const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A model folder: config.json and weights. */
static void model(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", rel);
    put(p, "{}");
    snprintf(p, sizeof p, "%s/model.safetensors", rel);
    put(p, "x");
}

/* "root/rel", in one of four buffers so that a call may take two. */
static const char *at(const char *rel) {
    static char bufs[4][1024];
    static int next;
    char *buf = bufs[next++ % 4];
    snprintf(buf, 1024, "%s/%s", root, rel);
    return buf;
}

static void clear_env(void) {
    const char *vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                          "CLIPSEARCH_CACHE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    setenv("HOME", at("home"), 1);
}

static void expect_dir(cs_status (*fn)(char *, size_t, cs_error *), const char *want) {
    char buf[1024];
    cs_error err;
    CHECK_OK(fn(buf, sizeof buf, &err), &err);
    CHECK_MSG(!strcmp(buf, want), "got %s, want %s", buf, want);
}

static void expect_resolve(const char *name, const char *want) {
    char buf[1024];
    cs_error err;
    cs_status st = cs_hub_resolve(name, NULL, buf, sizeof buf, &err);
    CHECK_MSG(st == CS_OK, "%s: %s", name, err.message);
    if (st == CS_OK) CHECK_MSG(!strcmp(buf, want), "%s: got %s, want %s", name, buf, want);
}

int main(void) {
    snprintf(root, sizeof root, "%s", cs_test_tmpdir());

    /* Repo ids. */
    CHECK(cs_hub_is_repo_id("openai/clip-vit-base-patch32"));
    CHECK(cs_hub_is_repo_id("gpt2"));
    CHECK(cs_hub_is_repo_id("sentence-transformers/clip-ViT-B-32"));
    CHECK(cs_hub_is_repo_id("a_b/c.d"));
    CHECK(!cs_hub_is_repo_id(""));
    CHECK(!cs_hub_is_repo_id("a/b/c"));
    CHECK(!cs_hub_is_repo_id("../x"));
    CHECK(!cs_hub_is_repo_id("a/.."));
    CHECK(!cs_hub_is_repo_id("/abs"));
    CHECK(!cs_hub_is_repo_id("a--b/c"));
    CHECK(!cs_hub_is_repo_id("a/b c"));
    CHECK(!cs_hub_is_repo_id(".hidden/x"));
    CHECK(!strcmp(cs_hub_default_model(), "openai/clip-vit-base-patch32"));

    /* Cache folders, in huggingface_hub's order. */
    clear_env();
    char want[1024];
    snprintf(want, sizeof want, "%s/.cache/huggingface/hub", at("home"));
    expect_dir(cs_hub_hf_cache_dir, want);
    snprintf(want, sizeof want, "%s/.cache/clipsearch/models", at("home"));
    expect_dir(cs_hub_cache_dir, want);
    setenv("XDG_CACHE_HOME", at("xdg"), 1);
    expect_dir(cs_hub_hf_cache_dir, at("xdg/huggingface/hub"));
    expect_dir(cs_hub_cache_dir, at("xdg/clipsearch/models"));
    setenv("HF_HOME", at("hfhome"), 1);
    expect_dir(cs_hub_hf_cache_dir, at("hfhome/hub"));
    setenv("HUGGINGFACE_HUB_CACHE", at("legacy"), 1);
    expect_dir(cs_hub_hf_cache_dir, at("legacy"));
    setenv("HF_HUB_CACHE", at("hubcache"), 1);
    expect_dir(cs_hub_hf_cache_dir, at("hubcache"));
    setenv("CLIPSEARCH_CACHE", at("ours"), 1);
    expect_dir(cs_hub_cache_dir, at("ours/models"));
    setenv("HF_HUB_CACHE", "~/hfc", 1); /* huggingface_hub expands ~ */
    snprintf(want, sizeof want, "%s/hfc", at("home"));
    expect_dir(cs_hub_hf_cache_dir, want);

    /* Resolution. */
    clear_env();
    setenv("HF_HOME", at("hf"), 1);
    setenv("CLIPSEARCH_CACHE", at("cs"), 1);
    char buf[1024];
    cs_error err;
    cs_status st = cs_hub_resolve("org/m", NULL, buf, sizeof buf, &err);
    CHECK_EQ_INT(st, CS_ENOTFOUND);
    CHECK_MSG(strstr(err.message, "org/m is not downloaded") && strstr(err.message, at("cs")) &&
                  strstr(err.message, at("hf/hub")),
              "message: %s", err.message);
    CHECK_EQ_INT(cs_hub_resolve("no/such/dir", NULL, buf, sizeof buf, &err), CS_EINVAL);
    CHECK_EQ_INT(cs_hub_resolve(NULL, NULL, buf, sizeof buf, &err), CS_ENOTFOUND);
    CHECK(strstr(err.message, "openai/clip-vit-base-patch32") != NULL);

    /* The Hugging Face cache: refs/main picks the snapshot. */
    model("hf/hub/models--org--m/snapshots/aaaa");
    model("hf/hub/models--org--m/snapshots/bbbb");
    put("hf/hub/models--org--m/refs/main", "aaaa");
    expect_resolve("org/m", at("hf/hub/models--org--m/snapshots/aaaa"));
    put("hf/hub/models--org--m/refs/main", "bbbb\n");
    expect_resolve("org/m", at("hf/hub/models--org--m/snapshots/bbbb"));
    /* A ref to a snapshot without weights falls back to a complete one. */
    put("hf/hub/models--org--m/refs/main", "cccc");
    put("hf/hub/models--org--m/snapshots/cccc/config.json", "{}");
    cs_status any = cs_hub_resolve("org/m", NULL, buf, sizeof buf, &err);
    CHECK(any == CS_OK && strstr(buf, "/snapshots/") && !strstr(buf, "cccc"));
    /* sentence-transformers: the model sits in 0_CLIPModel/. */
    put("hf/hub/models--st--clip/refs/main", "dddd");
    put("hf/hub/models--st--clip/snapshots/dddd/modules.json", "[]");
    model("hf/hub/models--st--clip/snapshots/dddd/0_CLIPModel");
    expect_resolve("st/clip", at("hf/hub/models--st--clip/snapshots/dddd/0_CLIPModel"));
    /* A bare name is also sentence-transformers/NAME, as that library has it. */
    model("hf/hub/models--sentence-transformers--clip-ViT-B-32/snapshots/eeee/0_CLIPModel");
    expect_resolve("clip-ViT-B-32",
                   at("hf/hub/models--sentence-transformers--clip-ViT-B-32/snapshots/eeee/"
                      "0_CLIPModel"));

    /* Our cache wins, once its manifest says complete. */
    model("cs/models/org--m");
    put("cs/models/org--m/.clipsearch-download.json", "{\"complete\": false}");
    CHECK(cs_hub_resolve("org/m", NULL, buf, sizeof buf, &err) == CS_OK && strstr(buf, "/hf/"));
    put("cs/models/org--m/.clipsearch-download.json", "{\"complete\": true}");
    expect_resolve("org/m", at("cs/models/org--m"));
    /* ... or in the cache folder given. */
    model("other/org--m");
    put("other/org--m/.clipsearch-download.json", "{\"complete\": true}");
    CHECK_OK(cs_hub_resolve("org/m", at("other"), buf, sizeof buf, &err), &err);
    CHECK(!strcmp(buf, at("other/org--m")));

    /* A folder is itself (a sentence-transformers one: its model folder). */
    expect_resolve(at("hf/hub/models--org--m/snapshots/aaaa"),
                   at("hf/hub/models--org--m/snapshots/aaaa"));
    expect_resolve(at("hf/hub/models--st--clip/snapshots/dddd"),
                   at("hf/hub/models--st--clip/snapshots/dddd/0_CLIPModel"));
    CHECK_EQ_INT(cs_hub_resolve("org/m", NULL, buf, 8, &err), CS_ELIMIT);

    char rm[1100];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    CHECK(system(rm) == 0);
    return cs_test_done("test_resolve");
}
