package dev.sluice.engine.template.internal;

import com.hubspot.jinjava.interpret.NullValue;
import com.hubspot.jinjava.objects.SafeString;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics for the values a chat template sees: {@code str()}, {@code repr()},
 * {@code json.dumps(ensure_ascii=False)}, {@code str.isspace()} and the string methods templates call.
 *
 * <p>Values are the plain Java shapes a JSON parser produces: {@code null}, {@link Boolean},
 * integral and floating {@link Number}s, {@link CharSequence}, {@link Map} (insertion-ordered) and
 * {@link Collection}/arrays. Everything here is a pure function; the class is thread-safe.
 */
public final class PyValues {
    private PyValues() {}

    /** Unwraps Jinjava's placeholders ({@link NullValue}, {@link SafeString}) to plain values. */
    public static Object unwrap(Object v) {
        if (v instanceof NullValue) return null;
        if (v instanceof SafeString s) return s.toString();
        return v;
    }

    // ---------------------------------------------------------------- str / repr

    /** Python {@code str(v)}; null is jinja2's Undefined, whose str is empty. */
    public static String str(Object v) {
        v = unwrap(v);
        if (v == null) return "";
        if (v instanceof PyNone) return "None";
        if (v instanceof CharSequence cs) return cs.toString();
        if (v instanceof Character c) return c.toString();
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof Number n) return numberRepr(n);
        return repr(v);
    }

    /** Python {@code repr(v)}. */
    public static String repr(Object v) {
        v = unwrap(v);
        if (v == null || v instanceof PyNone) return "None";
        if (v instanceof CharSequence cs) return stringRepr(cs.toString());
        if (v instanceof Character c) return stringRepr(c.toString());
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof Number n) return numberRepr(n);
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                sb.append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (v instanceof Map.Entry<?, ?> e) return "(" + repr(e.getKey()) + ", " + repr(e.getValue()) + ")";
        if (v instanceof PyTuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                if (i > 0) sb.append(", ");
                sb.append(repr(t.get(i)));
            }
            return sb.append(t.size() == 1 ? ",)" : ")").toString();
        }
        if (isListLike(v)) {
            StringBuilder sb = new StringBuilder("[");
            boolean first = true;
            for (Object o : toList(v)) {
                if (!first) sb.append(", ");
                first = false;
                sb.append(repr(o));
            }
            return sb.append(']').toString();
        }
        return String.valueOf(v);
    }

    private static String stringRepr(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder sb = new StringBuilder(s.length() + 2).append(quote);
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == quote || cp == '\\') sb.append('\\').appendCodePoint(cp);
            else if (cp == '\n') sb.append("\\n");
            else if (cp == '\r') sb.append("\\r");
            else if (cp == '\t') sb.append("\\t");
            else if (isPrintable(cp)) sb.appendCodePoint(cp);
            else if (cp < 0x100) sb.append(String.format("\\x%02x", cp));
            else if (cp < 0x10000) sb.append(String.format("\\u%04x", cp));
            else sb.append(String.format("\\U%08x", cp));
        }
        return sb.append(quote).toString();
    }

    /** Python {@code str.isprintable()} for one code point (space is printable, other separators not). */
    private static boolean isPrintable(int cp) {
        if (cp == ' ') return true;
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                 Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /** Python {@code repr} of an int or float. */
    public static String numberRepr(Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
                || n instanceof BigInteger) {
            return n.toString();
        }
        if (n instanceof BigDecimal bd) return floatRepr(bd.doubleValue());
        if (n instanceof Float f) return floatRepr(new BigDecimal(Float.toString(f)).doubleValue());
        return floatRepr(n.doubleValue());
    }

    /** Python {@code float.__repr__}: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
    public static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        // Double.toString gives the shortest round-trip decimal (JDK 19+); re-layout it as Python does.
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - bd.scale() - 1; // value = d.ddd * 10^exp
        StringBuilder sb = new StringBuilder();
        if (d < 0) sb.append('-');
        if (exp >= -4 && exp < 16) { // Python repr: fixed notation for 1e-4 <= |d| < 1e16
            if (exp >= 0) {
                if (digits.length() <= exp + 1) {
                    sb.append(digits).append("0".repeat(exp + 1 - digits.length())).append(".0");
                } else {
                    sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length());
                }
            } else {
                sb.append("0.").append("0".repeat(-exp - 1)).append(digits);
            }
        } else {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) sb.append('0');
            sb.append(a);
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- json.dumps

    /**
     * Python {@code json.dumps(v, ensure_ascii=False, indent=indent, separators=separators,
     * sort_keys=sortKeys)} as transformers' {@code tojson} filter calls it.
     *
     * @param indent null for single-line output, an Integer (spaces) or a String (the indent unit)
     * @param separators null for Python's defaults ({@code ", "} / {@code ": "}, or {@code ","} with
     *     an indent), else a two-element list of item and key separators
     */
    public static String toJson(Object v, Object indent, Object separators, boolean sortKeys) {
        return toJson(v, false, indent, separators, sortKeys);
    }

    /** As {@link #toJson(Object, Object, Object, boolean)}, escaping non-ASCII when {@code ensureAscii}. */
    public static String toJson(Object v, boolean ensureAscii, Object indent, Object separators, boolean sortKeys) {
        String indentUnit = null;
        indent = unwrap(indent);
        if (indent instanceof Number n) indentUnit = " ".repeat(Math.max(0, n.intValue()));
        else if (indent instanceof CharSequence cs) indentUnit = cs.toString();
        String itemSep = indentUnit == null ? ", " : ",";
        String keySep = ": ";
        separators = unwrap(separators);
        if (separators != null) {
            List<Object> seps = toList(separators);
            if (seps.size() != 2) throw new IllegalArgumentException("separators must be a pair, got " + repr(separators));
            itemSep = str(seps.get(0));
            keySep = str(seps.get(1));
        }
        StringBuilder sb = new StringBuilder();
        writeJson(sb, v, indentUnit, 0, itemSep, keySep, sortKeys);
        if (!ensureAscii) return sb.toString();
        StringBuilder ascii = new StringBuilder(sb.length());
        for (int i = 0; i < sb.length(); i++) {
            char c = sb.charAt(i);
            if (c < 0x80) ascii.append(c);
            else ascii.append(String.format("\\u%04x", (int) c));
        }
        return ascii.toString();
    }

    private static void writeJson(StringBuilder sb, Object v, String indent, int level,
                                  String itemSep, String keySep, boolean sortKeys) {
        v = unwrap(v);
        if (v == null || v instanceof PyNone) sb.append("null");
        else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
        else if (v instanceof CharSequence || v instanceof Character) jsonString(sb, v.toString());
        else if (v instanceof Number n) {
            String r = numberRepr(n);
            sb.append(switch (r) {
                case "nan" -> "NaN";
                case "inf" -> "Infinity";
                case "-inf" -> "-Infinity";
                default -> r;
            });
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
            if (sortKeys) entries.sort((a, b) -> jsonKey(a.getKey()).compareTo(jsonKey(b.getKey())));
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : entries) {
                if (!first) sb.append(itemSep);
                first = false;
                newline(sb, indent, level + 1);
                jsonString(sb, jsonKey(e.getKey()));
                sb.append(keySep);
                writeJson(sb, e.getValue(), indent, level + 1, itemSep, keySep, sortKeys);
            }
            newline(sb, indent, level);
            sb.append('}');
        } else if (isListLike(v)) {
            List<Object> list = toList(v);
            if (list.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            boolean first = true;
            for (Object o : list) {
                if (!first) sb.append(itemSep);
                first = false;
                newline(sb, indent, level + 1);
                writeJson(sb, o, indent, level + 1, itemSep, keySep, sortKeys);
            }
            newline(sb, indent, level);
            sb.append(']');
        } else {
            throw new IllegalArgumentException("Object of type " + v.getClass().getSimpleName() + " is not JSON serializable");
        }
    }

    private static String jsonKey(Object k) {
        k = unwrap(k);
        if (k == null || k instanceof PyNone) return "null";
        if (k instanceof Boolean b) return b ? "true" : "false";
        return k instanceof Number n ? numberRepr(n) : k.toString();
    }

    private static void newline(StringBuilder sb, String indent, int level) {
        if (indent == null) return;
        sb.append('\n');
        sb.append(indent.repeat(level));
    }

    private static void jsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    // ---------------------------------------------------------------- collections

    public static boolean isListLike(Object v) {
        return v instanceof Collection<?> || (v != null && v.getClass().isArray()) || v instanceof Iterable<?>;
    }

    /** A fresh list of the elements of a collection, array, iterable, string (its characters) or map (its keys). */
    public static List<Object> toList(Object v) {
        v = unwrap(v);
        List<Object> out = new ArrayList<>();
        if (v == null) return out;
        if (v instanceof CharSequence cs) {
            cs.toString().codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
        } else if (v instanceof Map<?, ?> m) {
            out.addAll(m.keySet());
        } else if (v instanceof Object[] arr) {
            out.addAll(java.util.Arrays.asList(arr));
        } else if (v.getClass().isArray()) {
            int n = java.lang.reflect.Array.getLength(v);
            for (int i = 0; i < n; i++) out.add(java.lang.reflect.Array.get(v, i));
        } else if (v instanceof Iterable<?> it) {
            for (Iterator<?> i = it.iterator(); i.hasNext(); ) out.add(i.next());
        } else {
            throw new IllegalArgumentException("'" + v.getClass().getSimpleName() + "' object is not iterable");
        }
        return out;
    }

    // ---------------------------------------------------------------- strings

    /** Python {@code str.isspace()} for one code point. */
    public static boolean isSpace(int cp) {
        return switch (cp) {
            case '\t', '\n', 0x0b, 0x0c, '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0, 0x1680,
                 0x2028, 0x2029, 0x202f, 0x205f, 0x3000 -> true;
            default -> cp >= 0x2000 && cp <= 0x200a;
        };
    }

    /** Python {@code s.strip(chars)} / {@code lstrip} / {@code rstrip}; chars null means whitespace. */
    public static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0, end = s.length();
        if (left) {
            while (start < end) {
                int cp = s.codePointAt(start);
                if (!stripped(cp, chars)) break;
                start += Character.charCount(cp);
            }
        }
        if (right) {
            while (end > start) {
                int cp = s.codePointBefore(end);
                if (!stripped(cp, chars)) break;
                end -= Character.charCount(cp);
            }
        }
        return s.substring(start, end);
    }

    private static boolean stripped(int cp, String chars) {
        return chars == null ? isSpace(cp) : chars.indexOf(new String(Character.toChars(cp))) >= 0;
    }

    /** Python {@code s.split(sep, maxsplit)}; sep null splits on runs of whitespace. */
    public static List<Object> split(String s, String sep, int maxsplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() == maxsplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        int from = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    /** Python {@code s.rsplit(sep, maxsplit)}. */
    public static List<Object> rsplit(String s, String sep, int maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && isSpace(s.codePointBefore(j))) j -= Character.charCount(s.codePointBefore(j));
                if (j <= 0) break;
                if (out.size() == maxsplit) {
                    out.addFirst(strip(s.substring(0, j), null, true, false));
                    break;
                }
                int i = j;
                while (i > 0 && !isSpace(s.codePointBefore(i))) i -= Character.charCount(s.codePointBefore(i));
                out.addFirst(s.substring(i, j));
                j = i;
            }
            return out;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        int end = s.length();
        while (out.size() < maxsplit) {
            int at = s.lastIndexOf(sep, end - sep.length());
            if (at < 0) break;
            out.addFirst(s.substring(at + sep.length(), end));
            end = at;
        }
        out.addFirst(s.substring(0, end));
        return out;
    }

    /** Python {@code s.title()}. */
    public static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.isLetter(cp)) {
                sb.appendCodePoint(prevCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp));
                prevCased = true;
            } else {
                sb.appendCodePoint(cp);
                prevCased = false;
            }
        }
        return sb.toString();
    }

    /** Python {@code s.capitalize()}. */
    public static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int cp = s.codePointAt(0);
        return new String(Character.toChars(Character.toTitleCase(cp)))
                + s.substring(Character.charCount(cp)).toLowerCase(java.util.Locale.ROOT);
    }

    /** Python's name for a value's type, for error messages. */
    public static String typeName(Object v) {
        v = unwrap(v);
        if (v == null) return "Undefined";
        if (v instanceof PyNone) return "NoneType";
        if (v instanceof CharSequence) return "str";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) return "float";
        if (v instanceof Number) return "int";
        if (v instanceof Map<?, ?>) return "dict";
        if (isListLike(v)) return "list";
        return v.getClass().getSimpleName();
    }

    /** Python {@code a == b}: no coercion between strings and numbers; numbers (and bools) by value. */
    public static boolean pyEquals(Object a, Object b) {
        a = unwrap(a);
        b = unwrap(b);
        if (a == b) return true;
        if (a == null || b == null) return false; // Undefined equals only Undefined
        if (a instanceof PyNone || b instanceof PyNone) return false;
        if ((a instanceof Number || a instanceof Boolean) && (b instanceof Number || b instanceof Boolean)) {
            return toBigDecimal(a).compareTo(toBigDecimal(b)) == 0;
        }
        if (a instanceof CharSequence x && b instanceof CharSequence y) return x.toString().equals(y.toString());
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !pyEquals(e.getValue(), y.get(e.getKey()))) return false;
            }
            return true;
        }
        if (isListLike(a) && isListLike(b) && !(a instanceof Map) && !(b instanceof Map)) {
            List<Object> x = toList(a), y = toList(b);
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!pyEquals(x.get(i), y.get(i))) return false;
            return true;
        }
        return a.equals(b);
    }

    private static BigDecimal toBigDecimal(Object n) {
        if (n instanceof Boolean b) return b ? BigDecimal.ONE : BigDecimal.ZERO;
        if (n instanceof BigDecimal bd) return bd;
        if (n instanceof BigInteger bi) return new BigDecimal(bi);
        if (n instanceof Double || n instanceof Float) {
            double d = ((Number) n).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) return BigDecimal.valueOf(Long.MAX_VALUE); // not equal to finite values
            return new BigDecimal(d);
        }
        return BigDecimal.valueOf(((Number) n).longValue());
    }

    /** Python {@code item in container}. */
    public static boolean contains(Object container, Object item) {
        container = unwrap(container);
        item = unwrap(item);
        if (container == null) return false; // iterating an Undefined yields nothing
        if (container instanceof CharSequence cs) {
            if (!(item instanceof CharSequence sub)) {
                throw new IllegalArgumentException("'in <string>' requires string as left operand, not " + typeName(item));
            }
            return cs.toString().contains(sub);
        }
        if (container instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) if (pyEquals(k, item)) return true;
            return false;
        }
        if (isListLike(container)) {
            for (Object o : toList(container)) if (pyEquals(o, item)) return true;
            return false;
        }
        throw new IllegalArgumentException("argument of type '" + typeName(container) + "' is not iterable");
    }

    /** Python {@code fmt % args} (printf-style: %s %r %d %i %f %e %g %x %o %c %%, flags, width, precision). */
    public static String percentFormat(String fmt, Object args) {
        args = unwrap(args);
        // Python: a tuple gives the arguments; anything else is one argument. A non-string with
        // items (list, dict) may go unused without error.
        List<Object> values = args instanceof PyTuple ? toList(args) : java.util.Collections.singletonList(args);
        Map<?, ?> named = args instanceof Map<?, ?> m ? m : null;
        boolean mayBeUnused = named != null || (args instanceof List<?> && !(args instanceof PyTuple));
        StringBuilder sb = new StringBuilder();
        int next = 0;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("%(\\(([^)]*)\\))?([-+ 0#]*)(\\d+|\\*)?(?:\\.(\\d+))?([diouxXeEfFgGcrsa%])").matcher(fmt);
        int last = 0;
        while (m.find()) {
            sb.append(fmt, last, m.start());
            last = m.end();
            char conv = m.group(6).charAt(0);
            if (conv == '%') {
                sb.append('%');
                continue;
            }
            Object v;
            if (m.group(2) != null) {
                if (named == null) throw new IllegalArgumentException("format requires a mapping");
                v = named.get(m.group(2));
            } else {
                if (next >= values.size()) throw new IllegalArgumentException("not enough arguments for format string");
                v = values.get(next++);
            }
            String flags = m.group(3) == null ? "" : m.group(3);
            String width = m.group(4) == null ? "" : m.group(4);
            String prec = m.group(5);
            String body = switch (conv) {
                case 's' -> prec == null ? str(v) : str(v).substring(0, Math.min(str(v).length(), Integer.parseInt(prec)));
                case 'r', 'a' -> repr(v);
                case 'c' -> v instanceof Number n ? new String(Character.toChars(n.intValue())) : str(v);
                case 'd', 'i', 'u' -> String.format("%" + flags.replace("#", "") + width + "d", toBigDecimal(num(v)).toBigInteger());
                case 'x', 'X', 'o' -> String.format("%" + flags + width + conv, toBigDecimal(num(v)).toBigInteger());
                default -> String.format(java.util.Locale.ROOT, "%" + flags + width + "." + (prec == null ? "6" : prec) + conv,
                        toBigDecimal(num(v)).doubleValue());
            };
            if ((conv == 's' || conv == 'r' || conv == 'a' || conv == 'c') && !width.isEmpty()) {
                int w = Integer.parseInt(width);
                String pad = " ".repeat(Math.max(0, w - body.length()));
                body = flags.contains("-") ? body + pad : pad + body;
            }
            sb.append(body);
        }
        sb.append(fmt.substring(last));
        if (!mayBeUnused && next < values.size()) {
            throw new IllegalArgumentException("not all arguments converted during string formatting");
        }
        return sb.toString();
    }

    private static Object num(Object v) {
        v = unwrap(v);
        if (v instanceof Number || v instanceof Boolean) return v;
        throw new IllegalArgumentException("a real number is required, not " + typeName(v));
    }

    /** Python {@code fmt.format(*args, **kwargs)} for {@code {}}, {@code {0}}, {@code {name}} and {@code {{ }}}. */
    public static String strFormat(String fmt, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c == '{' && i + 1 < fmt.length() && fmt.charAt(i + 1) == '{') {
                sb.append('{');
                i++;
            } else if (c == '}' && i + 1 < fmt.length() && fmt.charAt(i + 1) == '}') {
                sb.append('}');
                i++;
            } else if (c == '{') {
                int end = fmt.indexOf('}', i);
                if (end < 0) throw new IllegalArgumentException("Single '{' encountered in format string");
                String field = fmt.substring(i + 1, end);
                int colon = field.indexOf(':');
                if (colon >= 0) field = field.substring(0, colon); // format specs are not supported: plain str()
                Object v;
                if (field.isEmpty()) v = get(args, auto++);
                else if (field.chars().allMatch(Character::isDigit)) v = get(args, Integer.parseInt(field));
                else if (kwargs.containsKey(field)) v = kwargs.get(field);
                else throw new IllegalArgumentException("KeyError: '" + field + "'");
                sb.append(str(v));
                i = end;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static Object get(List<Object> args, int i) {
        if (i >= args.size()) throw new IllegalArgumentException("Replacement index " + i + " out of range for positional args tuple");
        return args.get(i);
    }

    /** Python truthiness. */
    public static boolean truthy(Object v) {
        v = unwrap(v);
        if (v == null || v instanceof PyNone) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Number n) return n.doubleValue() != 0;
        if (v instanceof CharSequence cs) return !cs.isEmpty();
        if (v instanceof Collection<?> c) return !c.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }
}
