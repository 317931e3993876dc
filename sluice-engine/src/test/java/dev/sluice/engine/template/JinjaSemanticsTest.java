package dev.sluice.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One Jinja behaviour per case, where Jinjava's own semantics differ from Python jinja2's. Each
 * expected string is what jinja2 3.1.6 renders in transformers' environment (trim_blocks,
 * lstrip_blocks, loopcontrols, its tojson / raise_exception / strftime_now), checked by hand
 * against that reference; the template's variables are given as JSON. {@code strftime_now} reads
 * a clock fixed at 2024-07-26 09:05:03. A null expectation means jinja2 raises (a TypeError or
 * UndefinedError), so ChatTemplate must throw.
 */
class JinjaSemanticsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Clock FIXED = Clock.fixed(
            LocalDateTime.of(2024, 7, 26, 9, 5, 3).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);

    static Stream<Arguments> cases() {
        return Stream.of(
                case_("trim_blocks_removes_newline_after_block",
                        "{% if true %}\nA\n{% endif %}\nB",
                        "{}",
                        "A\nB"),
                case_("lstrip_blocks_only_at_line_start",
                        "x  {% if true %}y{% endif %}\n  {% if true %}z{% endif %}",
                        "{}",
                        "x  yz"),
                case_("plus_disables_lstrip",
                        "  {%+ if true %}a{% endif %}",
                        "{}",
                        "  a"),
                case_("minus_strips_all_whitespace",
                        "a  \n {%- if true -%}  \n b {{- ' c ' -}} \n d {%- endif %}",
                        "{}",
                        "ab c d"),
                case_("variable_tags_are_not_trimmed",
                        "{{ 'a' }}\n  {{ 'b' }}\n",
                        "{}",
                        "a\n  b"),
                case_("comments_trim_and_lstrip",
                        "a\n  {# note #}\nb {#- x -#} c",
                        "{}",
                        "a\nbc"),
                case_("trailing_newline_dropped_once",
                        "a\n\n",
                        "{}",
                        "a\n"),
                case_("raw_block",
                        "{% raw %}{{ not rendered }}{% endraw %}",
                        "{}",
                        "{{ not rendered }}"),
                case_("loop_first_last_index0",
                        "{% for m in xs %}{{ loop.index0 }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %};{% endfor %}",
                        "{\"xs\": [1, 2, 3]}",
                        "0F;1;2L;"),
                case_("break_and_continue",
                        "{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
                        "{\"xs\": [1, 2, 3, 4, 5]}",
                        "13"),
                case_("loop_filter_counts_kept_items",
                        "{% for k, v in d.items() if k != 'skip' %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}",
                        "{\"d\": {\"a\": 1, \"skip\": 2, \"b\": 3}}",
                        "a=1, b=3"),
                case_("string_methods",
                        "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxaxx'.strip('x') }}|{{ s.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.split(' ', 1) }}",
                        "{\"s\": \"  a b  \"}",
                        "a b|a b  |  a b|a|['a', 'b']|['a', 'b', '', 'c']|['a', 'b c']"),
                case_("string_predicates_and_case",
                        "{{ s.startswith('<t') }}{{ s.endswith('>') }}{{ s.startswith(('x', '<')) }}|{{ s.upper() }}|{{ 'HeLLo wOrld'.lower() }}|{{ 'hello world'.title() }}|{{ s.replace('t', 'T') }}",
                        "{\"s\": \"<think>\"}",
                        "TrueTrueTrue|<THINK>|hello world|Hello World|<Think>"),
                case_("split_think_negative_index",
                        "{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
                        "{\"c\": \"<think>\\nwhy\\n</think>\\n\\nanswer\"}",
                        "answer|why"),
                case_("slices",
                        "{{ xs[1:] }}{{ xs[:-1] }}{{ xs[::-1] }}{{ xs[-2:] }}{{ xs[::2] }}|{{ s[1:3] }}{{ s[::-1] }}{{ s[:-1] }}{{ s[-10:] }}",
                        "{\"xs\": [1, 2, 3, 4], \"s\": \"hello\"}",
                        "[2, 3, 4][1, 2, 3][4, 3, 2, 1][3, 4][1, 3]|elollehhellhello"),
                case_("slice_of_attribute_then_index",
                        "{% for m in messages[1:] %}{{ m.role }}{% endfor %}|{{ messages[::-1][0].role }}",
                        "{\"messages\": [{\"role\": \"system\"}, {\"role\": \"user\"}, {\"role\": \"assistant\"}]}",
                        "userassistant|assistant"),
                case_("tests_string_mapping_iterable_defined_none",
                        "{{ s is string }}{{ d is mapping }}{{ s is iterable }}{{ d is iterable }}{{ n is none }}{{ u is defined }}{{ s is defined }}{{ n is not none }}{{ x is number }}",
                        "{\"s\": \"a\", \"d\": {\"k\": 1}, \"n\": null, \"x\": 3}",
                        "TrueTrueTrueTrueTrueFalseTrueFalseTrue"),
                case_("not_binds_looser_than_tests_and_comparisons",
                        "{{ not u is defined }}{{ not s is defined }}{{ not xs|length == 1 }}{{ not s == 'a' and true }}{{ 'q' not in s }}",
                        "{\"s\": \"a\", \"xs\": [1, 2]}",
                        "TrueFalseTrueFalseTrue"),
                case_("namespace_and_set",
                        "{% set ns = namespace(count=0, last=xs|length - 1) %}{% for x in xs %}{% set ns.count = ns.count + x %}{% endfor %}{{ ns.count }}/{{ ns.last }}",
                        "{\"xs\": [1, 2, 3]}",
                        "6/2"),
                case_("selectattr_reject_join",
                        "{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(', ') }}|{{ names | reject('equalto', 'b') | join(', ') }}",
                        "{\"ms\": [{\"role\": \"user\", \"content\": \"u1\"}, {\"role\": \"bot\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"u2\"}], \"names\": [\"a\", \"b\", \"c\"]}",
                        "u1, u2|a, c"),
                case_("tojson_python_separators_and_unicode",
                        "{{ v | tojson }}",
                        "{\"v\": {\"s\": \"é \\\"q\\\" \\\\ \\n\\t\\u0001 🚀\", \"n\": null, \"t\": true, \"f\": 1.5, \"i\": 7, \"l\": [], \"d\": {}, \"big\": 1e+16, \"small\": 1e-05}}",
                        "{\"s\": \"é \\\"q\\\" \\\\ \\n\\t\\u0001 🚀\", \"n\": null, \"t\": true, \"f\": 1.5, \"i\": 7, \"l\": [], \"d\": {}, \"big\": 1e+16, \"small\": 1e-05}"),
                case_("tojson_indent",
                        "{{ v | tojson(indent=4) }}",
                        "{\"v\": {\"a\": [1, {\"b\": null}], \"c\": {}, \"e\": []}}",
                        "{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        }\n    ],\n    \"c\": {},\n    \"e\": []\n}"),
                case_("dict_get_items_in",
                        "{{ d.get('a') }}{{ d.get('zz', 'dflt') }}{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}{{ 'a' in d }}{{ 'zz' in d }}{% for k, v in d | items %}{{ k }}{% endfor %}",
                        "{\"d\": {\"a\": 1, \"b\": 2}}",
                        "1dflta1b2TrueFalseab"),
                case_("concat_and_tilde",
                        "{{ 'a' + s + 'b' }}{{ 'n' ~ 1 ~ 'm' }}{{ 'x' ~ s }}",
                        "{\"s\": \"S\"}",
                        "aSbn1mxS"),
                case_("python_literals",
                        "{{ True }}{{ False }}{{ true }}{{ none is none }}{{ None is none }}{{ [1, 'a', none, true] }}{{ {'k': 'v'} }}",
                        "{}",
                        "TrueFalseTrueTrueTrue[1, 'a', None, True]{'k': 'v'}"),
                case_("print_values_as_python_str",
                        "{{ b }}|{{ xs }}|{{ d }}|{{ f }}|{{ u }}",
                        "{\"b\": true, \"xs\": [\"a\", 1, false], \"d\": {\"k\": [1.0]}, \"f\": 2.0}",
                        "True|['a', 1, False]|{'k': [1.0]}|2.0|"),
                case_("string_escapes_in_literals",
                        "{{ 'a\\nb\\tc\\u00e9\\x41\\\\d' }}|{{ \"it's\" }}|{{ 'say \"hi\"' }}",
                        "{}",
                        "a\nb\tcéA\\d|it's|say \"hi\""),
                case_("trim_and_length_filters",
                        "[{{ s | trim }}]{{ s | length }}{{ xs | length }}",
                        "{\"s\": \"  x \\n\", \"xs\": [1, 2]}",
                        "[x]52"),
                case_("conditional_expression_and_default",
                        "{{ 'y' if b else 'n' }}{{ 'y' if not b else 'n' }}{{ u | default('d') }}",
                        "{\"b\": true}",
                        "ynd"),
                case_("macro",
                        "{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}{{ greet('A') }}/{{ greet('B', p='Yo') }}",
                        "{}",
                        "Hi A/Yo B"),
                case_("strftime_now",
                        "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %I%p') }}|{{ strftime_now is defined }}",
                        "{}",
                        "26 Jul 2024|2024-07-26 09:05:03 Friday July 208 09AM|True"),
                case_("python_truthiness_of_strings",
                        "{% if s %}T{% else %}F{% endif %}{% if not s %}N{% endif %}{{ 'y' if s else 'n' }}{% if e %}E{% elif s and z %}Z{% endif %}{{ e or 'dflt' }}",
                        "{\"s\": \"false\", \"e\": \"\", \"z\": \"False\"}",
                        "TyZdflt"),
                case_("python_truthiness_of_containers_and_numbers",
                        "{% if xs %}1{% endif %}{% if d %}2{% endif %}{% if zero %}3{% endif %}{% if f %}4{% endif %}{% if ys %}5{% endif %}",
                        "{\"xs\": [], \"d\": {}, \"zero\": 0, \"f\": 0.0, \"ys\": [0]}",
                        "5"),
                case_("tilde_prints_python_str",
                        "{{ 'a' ~ b ~ 1.0 ~ [1, 'x'] ~ n }}",
                        "{\"b\": true, \"n\": 2}",
                        "aTrue1.0[1, 'x']2"),
                case_("none_is_distinct_from_undefined",
                        "{{ n }}|{{ u }}|{{ n is none }}{{ n is defined }}{{ u is defined }}{{ n == none }}{{ u == none }}|{{ n | tojson }}|{{ none }}|{{ d.get('zz') }}|{{ n ~ 'x' }}|{{ [n] }}",
                        "{\"n\": null, \"d\": {}}",
                        "None||TrueTrueFalseTrueFalse|null|None|None|Nonex|[None]"),
                case_("python_equality",
                        "{{ '1' == 1 }}{{ 1 == 1.0 }}{{ [1, 'a'] == [1, 'a'] }}{{ d == {'k': 1} }}{{ 'a' != 'b' }}{{ true == 1 }}",
                        "{\"d\": {\"k\": 1}}",
                        "FalseTrueTrueTrueTrueTrue"),
                case_("and_or_return_operands",
                        "{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ '' or 'c' }}|{{ 0 or [] }}",
                        "{}",
                        "b||c|[]"),
                case_("membership",
                        "{{ 'a' in 'cat' }}{{ 'k' in d }}{{ 1 in [1.0, 2] }}{{ 'x' not in xs }}{{ 'q' in u }}{{ '1' in [1] }}",
                        "{\"d\": {\"k\": 0}, \"xs\": [\"y\"]}",
                        "TrueTrueTrueTrueFalseFalse"),
                case_("plus_on_lists_and_numbers",
                        "{{ [1] + [2, 3] }}{{ 1 + 2.5 }}{{ 'a' + 'b' }}",
                        "{}",
                        "[1, 2, 3]3.5ab"),
                case_("plus_string_and_none_raises",
                        "{{ 'a' + n }}",
                        "{\"n\": null}",
                        null),
                case_("plus_string_and_undefined_raises",
                        "{{ 'a' + u }}",
                        "{}",
                        null),
                case_("plus_string_and_number_raises",
                        "{{ 'a' + 1 }}",
                        "{}",
                        null),
                case_("in_none_raises",
                        "{{ 'x' in n }}",
                        "{\"n\": null}",
                        null),
                case_("in_string_needs_string_raises",
                        "{{ 1 in 'abc' }}",
                        "{}",
                        null),
                case_("undefined_prints_empty_and_iterates_empty",
                        "[{{ u }}][{{ d.zz }}][{{ n.x }}][{% for x in u %}x{% endfor %}][{{ u | length }}]",
                        "{\"d\": {}, \"n\": null}",
                        "[][][][][0]"),
                case_("attribute_of_undefined_raises",
                        "{{ d.zz.y }}",
                        "{\"d\": {}}",
                        null),
                case_("item_of_undefined_raises",
                        "{{ u['x'] }}",
                        "{}",
                        null),
                case_("method_of_undefined_raises",
                        "{{ u.strip() }}",
                        "{}",
                        null),
                case_("index_past_end_is_undefined_then_raises",
                        "{{ xs[-1]['role'] }}",
                        "{\"xs\": []}",
                        null)

        );
    }

    private static Arguments case_(String name, String template, String varsJson, String expected) {
        return Arguments.of(name, template, varsJson, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @SuppressWarnings("unchecked")
    void rendersAsJinja2(String name, String template, String varsJson, String expected) throws Exception {
        Map<String, Object> vars = JSON.readValue(varsJson, Map.class);
        List<Map<String, Object>> messages = (List<Map<String, Object>>) vars.remove("messages");
        ChatTemplate t = ChatTemplate.of(template, null, null).withClock(FIXED);
        List<Map<String, Object>> msgs = messages == null ? List.of() : messages;
        if (expected == null) { // jinja2 raises
            assertThatThrownBy(() -> t.render(msgs, false, null, vars)).as(name).isInstanceOf(ChatTemplateException.class);
        } else {
            assertThat(t.render(msgs, false, null, vars)).as(name).isEqualTo(expected);
        }
    }
}
