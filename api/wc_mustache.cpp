// The C API of wc_mustache.h over the kainjow Mustache library. Nothing here
// lets a C++ exception out: every entry point catches and reports a status.
#include "wc_mustache.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <kainjow/mustache.hpp>

namespace {

using kainjow::mustache::data;
using kainjow::mustache::mustache;

void set_why(char *why, size_t why_len, const char *text)
{
    if (why != nullptr && why_len > 0) {
        std::snprintf(why, why_len, "%s", text);
    }
}

// The output, kept to a maximum: what would go past it is dropped and
// remembered, so a section repeated over a long list cannot grow without end.
struct capped_sink {
    std::string text;
    size_t max;
    bool overflowed = false;

    explicit capped_sink(size_t limit) : max(limit) {}

    capped_sink &operator<<(const std::string &part)
    {
        if (overflowed || part.size() > max - text.size()) {
            overflowed = true;
        } else {
            text += part;
        }
        return *this;
    }
};

void note_missing(wc_mustache_missing_t *missing, const std::string &name)
{
    if (missing == nullptr) {
        return;
    }
    for (size_t i = 0; i < missing->count; i++) {
        if (std::strncmp(missing->names[i], name.c_str(), WC_MUSTACHE_NAME_MAX - 1) == 0) {
            return;
        }
    }
    if (missing->count == WC_MUSTACHE_MISSING_MAX) {
        missing->more = 1;
        return;
    }
    std::snprintf(missing->names[missing->count++], WC_MUSTACHE_NAME_MAX, "%s", name.c_str());
}

// The context stack of a rendering, resolving names the strict way the header
// describes, and refusing partials.
class strict_context : public kainjow::mustache::basic_context<std::string> {
public:
    strict_context(const data *root, wc_mustache_missing_t *missing) : missing_(missing)
    {
        items_.push_back(root);
    }

    void push(const data *item) override { items_.push_back(item); }
    void pop() override { items_.pop_back(); }

    const data *get(const std::string &name) const override
    {
        if (name == ".") {
            return items_.back();
        }
        size_t dot = name.find('.');
        std::string first = name.substr(0, dot);
        const data *found = nullptr;
        for (auto it = items_.rbegin(); it != items_.rend() && found == nullptr; ++it) {
            found = (*it)->get(first);
        }
        while (found != nullptr && dot != std::string::npos) {
            size_t next = name.find('.', dot + 1);
            found = found->get(name.substr(dot + 1, next == std::string::npos ? next : next - dot - 1));
            dot = next;
        }
        if (found == nullptr) {
            note_missing(missing_, name);
        }
        return found;
    }

    const data *get_partial(const std::string &) const override { return nullptr; }

private:
    std::vector<const data *> items_;
    wc_mustache_missing_t *missing_;
};

// JSON to the library's data; false when `value` nests too deep.
bool to_data(json_object *value, int depth, data &out)
{
    if (depth > WC_MUSTACHE_DATA_DEPTH_MAX) {
        return false;
    }
    switch (json_object_get_type(value)) {
    case json_type_null:
        out = data(false);
        return true;
    case json_type_boolean:
        out = data(json_object_get_boolean(value) != 0);
        return true;
    case json_type_string:
        out = data(std::string(json_object_get_string(value),
                               static_cast<size_t>(json_object_get_string_len(value))));
        return true;
    case json_type_int:
    case json_type_double:
        out = data(std::string(json_object_get_string(value)));
        return true;
    case json_type_array: {
        out = data(data::type::list);
        size_t n = json_object_array_length(value);
        for (size_t i = 0; i < n; i++) {
            data item;
            if (!to_data(json_object_array_get_idx(value, i), depth + 1, item)) {
                return false;
            }
            out.push_back(item);
        }
        return true;
    }
    case json_type_object:
        out = data(data::type::object);
        json_object_object_foreach(value, key, member)
        {
            data item;
            if (!to_data(member, depth + 1, item)) {
                return false;
            }
            out.set(key, item);
        }
        return true;
    }
    return false;
}

std::string no_escape(const std::string &text) { return text; }

} // namespace

extern "C" wc_mustache_status_t wc_mustache_check(const char *tmpl, char *why, size_t why_len)
{
    set_why(why, why_len, "");
    try {
        mustache parsed{std::string(tmpl)};
        if (!parsed.is_valid()) {
            set_why(why, why_len, parsed.error_message().c_str());
            return WC_MUSTACHE_SYNTAX;
        }
        return WC_MUSTACHE_OK;
    } catch (const std::bad_alloc &) {
        set_why(why, why_len, "out of memory");
        return WC_MUSTACHE_NO_MEMORY;
    }
}

extern "C" wc_mustache_status_t wc_mustache_render(const char *tmpl, json_object *json,
                                                   wc_mustache_mode_t mode, size_t max_out,
                                                   char **out, wc_mustache_missing_t *missing,
                                                   char *why, size_t why_len)
{
    *out = nullptr;
    set_why(why, why_len, "");
    if (missing != nullptr) {
        std::memset(missing, 0, sizeof(*missing));
    }
    try {
        data root(data::type::object);
        if (json != nullptr && !to_data(json, 0, root)) {
            set_why(why, why_len, "the data nests too deep");
            return WC_MUSTACHE_TOO_DEEP;
        }
        mustache parsed{std::string(tmpl)};
        if (!parsed.is_valid()) {
            set_why(why, why_len, parsed.error_message().c_str());
            return WC_MUSTACHE_SYNTAX;
        }
        if (mode == WC_MUSTACHE_TEXT) {
            parsed.set_custom_escape(no_escape);
        }
        wc_mustache_missing_t seen = {};
        strict_context ctx(&root, &seen);
        capped_sink sink(max_out);
        parsed.render(ctx, sink);
        if (!parsed.is_valid()) {
            set_why(why, why_len, parsed.error_message().c_str());
            return WC_MUSTACHE_SYNTAX;
        }
        if (sink.overflowed) {
            set_why(why, why_len, "the rendering is longer than allowed");
            return WC_MUSTACHE_TOO_LARGE;
        }
        char *text = static_cast<char *>(std::malloc(sink.text.size() + 1));
        if (text == nullptr) {
            set_why(why, why_len, "out of memory");
            return WC_MUSTACHE_NO_MEMORY;
        }
        std::memcpy(text, sink.text.data(), sink.text.size());
        text[sink.text.size()] = '\0';
        *out = text;
        if (missing != nullptr) {
            *missing = seen;
        }
        return seen.count > 0 ? WC_MUSTACHE_MISSING : WC_MUSTACHE_OK;
    } catch (const std::bad_alloc &) {
        set_why(why, why_len, "out of memory");
        return WC_MUSTACHE_NO_MEMORY;
    }
}
