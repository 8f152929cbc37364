/* text/pretokenize.c - the two pre-tokenizer regexes, written out by hand.
 *
 * CLIP's Split pattern, run by Oniguruma (leftmost, first alternative wins):
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d
 *   |[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * with behaviour Removed and invert: the matches are kept, the text between
 * them (only ever white space: the three classes cover every other
 * character) is dropped. Then GPT-2's ByteLevel pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * splits each piece again (behaviour Isolated). Pieces hold no white space
 * by then, so the optional leading spaces never apply; in effect the second
 * split only cuts "<|endoftext|>" into "<|", "endoftext", "|>" (and digit
 * runs, which the first split already cut into single digits). */
#include "text/text.h"

static bool at(const int32_t *cp, size_t i, size_t end, const char *ascii) {
    for (; *ascii; ascii++, i++)
        if (i >= end || cp[i] != (unsigned char)*ascii) return false;
    return true;
}

/* Length of 's|'t|'re|'ve|'m|'ll|'d at i, or 0. */
static size_t contraction(const int32_t *cp, size_t i, size_t end) {
    if (cp[i] != '\'' || i + 1 >= end) return 0;
    int32_t c = cp[i + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
    if (i + 2 < end) {
        int32_t d = cp[i + 2];
        if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return 3;
    }
    return 0;
}

static bool is_other(int32_t c) {
    return !cs_is_space(c) && !cs_is_letter(c) && !cs_is_number(c);
}

bool cs_clip_split(const int32_t *cp, size_t n, bool with_specials, cs_span_fn fn, void *ctx) {
    size_t i = 0;
    while (i < n) {
        size_t j = i, k;
        if (with_specials && at(cp, i, n, "<|startoftext|>"))
            j = i + 15;
        else if (with_specials && at(cp, i, n, "<|endoftext|>"))
            j = i + 13;
        else if ((k = contraction(cp, i, n)))
            j = i + k;
        else if (cs_is_letter(cp[i]))
            while (j < n && cs_is_letter(cp[j])) j++;
        else if (cs_is_number(cp[i]))
            j = i + 1;
        else if (!cs_is_space(cp[i]))
            while (j < n && is_other(cp[j])) j++;
        if (j == i) { /* white space: removed */
            i++;
            continue;
        }
        if (!fn(ctx, cp, (cs_span){i, j})) return false;
        i = j;
    }
    return true;
}

bool cs_gpt2_split(const int32_t *cp, cs_span piece, cs_span_fn fn, void *ctx) {
    size_t i = piece.start, n = piece.end;
    while (i < n) {
        size_t j = i + 1, k;
        if ((k = contraction(cp, i, n)))
            j = i + k;
        else if (cs_is_letter(cp[i]))
            while (j < n && cs_is_letter(cp[j])) j++;
        else if (cs_is_number(cp[i]))
            while (j < n && cs_is_number(cp[j])) j++;
        else if (!cs_is_space(cp[i]))
            while (j < n && is_other(cp[j])) j++;
        else /* unreachable after the CLIP split; kept whole if it ever happens */
            while (j < n && cs_is_space(cp[j])) j++;
        if (!fn(ctx, cp, (cs_span){i, j})) return false;
        i = j;
    }
    return true;
}

int32_t cs_byte_to_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    /* The other 68 bytes, in order, go to U+0100.. */
    if (b <= 0x20) return 256 + b;
    if (b <= 0xA0) return 256 + 33 + (b - 0x7F);
    return 256 + 67; /* 0xAD */
}
