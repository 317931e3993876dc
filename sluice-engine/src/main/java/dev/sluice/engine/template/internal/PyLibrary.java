package dev.sluice.engine.template.internal;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.time.temporal.ChronoField;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The globals, filters and tests that Hugging Face transformers gives chat templates, with Python
 * semantics where Jinjava's built-ins differ: {@code raise_exception}, {@code strftime_now}, the
 * {@code tojson} filter ({@code json.dumps(ensure_ascii=False)}), {@code trim}, {@code string},
 * {@code join}, {@code items}, {@code list}, and the {@code iterable}, {@code sequence},
 * {@code string}, {@code mapping} tests. Stateless and thread-safe; the render's clock comes from the
 * context variable {@link #NOW_VAR}.
 */
public final class PyLibrary {
    private PyLibrary() {}

    /** Context variable holding the render's {@link LocalDateTime} for {@code strftime_now}. */
    public static final String NOW_VAR = "__sluice_now";

    /**
     * Markers bound under the names of the global functions, so that {@code strftime_now is defined}
     * is true as in jinja2 (calls resolve to the functions, not to these values).
     */
    public static final Map<String, Object> GLOBAL_FUNCTIONS = Map.of(
            "raise_exception", new FunctionMarker("raise_exception"),
            "strftime_now", new FunctionMarker("strftime_now"));

    record FunctionMarker(String name) {
        @Override
        public String toString() {
            return "<function " + name + ">";
        }
    }

    /** Thrown by the template's {@code raise_exception(message)}. */
    public static final class RaisedException extends RuntimeException {
        public RaisedException(String message) {
            super(message, null, false, false);
        }
    }

    public static void install(Jinjava jinjava) {
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", PyLibrary.class, "raiseException", Object.class));
        jinjava.registerFunction(new ELFunctionDefinition("", "strftime_now", PyLibrary.class, "strftimeNow", Object.class));
        jinjava.registerFunction(new ELFunctionDefinition("", "dict", PyLibrary.class, "dict", Object[].class));
        jinjava.registerFunction(new ELFunctionDefinition("", JinjaSourceRewriter.NEIGHBOR_FN, PyLibrary.class, "item", Object.class, Object.class));
        jinjava.registerFunction(new ELFunctionDefinition("", JinjaSourceRewriter.TUPLE_FN, PyLibrary.class, "tuple", Object[].class));
        jinjava.registerFunction(new ELFunctionDefinition("", "range", PyLibrary.class, "range", Object[].class));
        jinjava.registerFunction(new ELFunctionDefinition("", JinjaSourceRewriter.NONE_FN, PyNone.class, "none"));
        jinjava.registerFunction(new ELFunctionDefinition("", JinjaSourceRewriter.TRUTH_FN, PyValues.class, "truthy", Object.class));
        jinjava.registerFunction(new ELFunctionDefinition("", JinjaSourceRewriter.SLICE_FN, PyLibrary.class, "slice",
                Object.class, Object.class, Object.class, Object.class));

        jinjava.registerFilter(new SimpleFilter("tojson", (v, a, kw) -> PyValues.toJson(defined(v, "Object of type Undefined is not JSON serializable"),
                PyValues.truthy(kw.getOrDefault("ensure_ascii", a.length > 0 ? a[0] : false)),
                kw.getOrDefault("indent", a.length > 1 ? a[1] : null),
                kw.get("separators"),
                PyValues.truthy(kw.get("sort_keys")))));
        jinjava.registerFilter(new SimpleFilter("trim", (v, a, kw) ->
                PyValues.strip(PyValues.str(v), a.length > 0 && a[0] != null ? PyValues.str(a[0])
                        : kw.containsKey("chars") ? PyValues.str(kw.get("chars")) : null, true, true)));
        jinjava.registerFilter(new SimpleFilter("string", (v, a, kw) -> PyValues.str(v)));
        // jinja2 applies these to str(value); Jinjava to Java's toString or not at all.
        jinjava.registerFilter(new SimpleFilter("upper", (v, a, kw) -> v == null ? "" : PyValues.str(v).toUpperCase(Locale.ROOT)));
        jinjava.registerFilter(new SimpleFilter("lower", (v, a, kw) -> v == null ? "" : PyValues.str(v).toLowerCase(Locale.ROOT)));
        jinjava.registerFilter(new SimpleFilter("title", (v, a, kw) -> v == null ? "" : PyValues.title(PyValues.str(v))));
        jinjava.registerFilter(new SimpleFilter("capitalize", (v, a, kw) -> v == null ? "" : PyValues.capitalize(PyValues.str(v))));
        jinjava.registerFilter(new SimpleFilter("length", (v, a, kw) -> length(v)));
        jinjava.registerFilter(new SimpleFilter("count", (v, a, kw) -> length(v)));
        jinjava.registerFilter(new SimpleFilter("first", (v, a, kw) -> {
            List<Object> items = iterable(v);
            return items.isEmpty() ? null : items.getFirst();
        }));
        jinjava.registerFilter(new SimpleFilter("last", (v, a, kw) -> {
            if (v != null && !(v instanceof CharSequence) && !(v instanceof Map<?, ?>) && !(v instanceof List<?>) && !v.getClass().isArray()) {
                throw new IllegalArgumentException("'" + PyValues.typeName(v) + "' object is not reversible");
            }
            List<Object> items = iterable(v);
            return items.isEmpty() ? null : items.getLast();
        }));
        jinjava.registerFilter(new SimpleFilter("reverse", (v, a, kw) -> {
            if (v instanceof CharSequence cs) return new StringBuilder(cs).reverse().toString();
            List<Object> items = new ArrayList<>(iterable(v));
            java.util.Collections.reverse(items);
            return items;
        }));
        jinjava.registerFilter(new SimpleFilter("sort", (v, a, kw) -> {
            boolean reverse = PyValues.truthy(kw.getOrDefault("reverse", a.length > 0 ? a[0] : false));
            boolean caseSensitive = PyValues.truthy(kw.getOrDefault("case_sensitive", a.length > 1 ? a[1] : false));
            Object attr = kw.getOrDefault("attribute", a.length > 2 ? a[2] : null);
            List<Object> items = new ArrayList<>(iterable(v));
            java.util.Comparator<Object> byKey = (x, y) -> compare(sortKey(x, attr, caseSensitive), sortKey(y, attr, caseSensitive));
            items.sort(reverse ? byKey.reversed() : byKey);
            return items;
        }));
        jinjava.registerFilter(new SimpleFilter("items", (v, a, kw) -> {
            if (v == null) return new ArrayList<>();
            if (!(v instanceof Map<?, ?> m)) throw new IllegalArgumentException("can only get item pairs from a mapping");
            List<Object> out = new ArrayList<>();
            for (Map.Entry<?, ?> e : m.entrySet()) out.add(new PyTuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
            return out;
        }));
        jinjava.registerFilter(new SimpleFilter("list", (v, a, kw) -> PyValues.toList(v)));
        jinjava.registerFilter(new SimpleFilter("join", (v, a, kw) -> {
            Object sep = a.length > 0 ? a[0] : kw.getOrDefault("d", "");
            Object attr = a.length > 1 ? a[1] : kw.get("attribute");
            StringBuilder sb = new StringBuilder();
            boolean first = true;
            for (Object o : PyValues.toList(v)) {
                if (!first) sb.append(PyValues.str(sep));
                first = false;
                if (attr != null && o instanceof Map<?, ?> m) o = m.get(PyValues.str(attr));
                sb.append(PyValues.str(o));
            }
            return sb.toString();
        }));

        jinjava.registerFilter(new SimpleFilter("sum", (v, a, kw) -> {
            Object attr = kw.get("attribute");
            Object start = kw.getOrDefault("start", a.length > 1 ? a[1] : 0L);
            boolean integral = start instanceof Long || start instanceof Integer;
            java.math.BigDecimal total = new java.math.BigDecimal(PyValues.str(start));
            for (Object o : PyValues.toList(v)) {
                if (attr != null && o instanceof Map<?, ?> m) o = m.get(PyValues.str(attr));
                o = PyValues.unwrap(o);
                if (!(o instanceof Number || o instanceof Boolean)) {
                    throw new IllegalArgumentException("unsupported operand type(s) for +: 'int' and '" + PyValues.typeName(o) + "'");
                }
                if (o instanceof Double || o instanceof Float || o instanceof java.math.BigDecimal) integral = false;
                total = total.add(o instanceof Boolean b ? (b ? java.math.BigDecimal.ONE : java.math.BigDecimal.ZERO)
                        : new java.math.BigDecimal(o.toString()));
            }
            return integral ? (Object) total.longValueExact() : (Object) total.doubleValue();
        }));
        jinjava.registerFilter(new SimpleFilter("max", (v, a, kw) -> extreme(v, kw, true)));
        jinjava.registerFilter(new SimpleFilter("min", (v, a, kw) -> extreme(v, kw, false)));
        jinjava.registerExpTest(new ExpTest() {
            @Override
            public String getName() {
                return "in";
            }

            @Override
            public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
                if (args == null || args.length != 1) throw new IllegalArgumentException("'in' test takes one argument");
                return PyValues.contains(args[0], var);
            }
        });
        jinjava.registerExpTest(new SimpleTest("none", v -> v instanceof PyNone)); // Undefined (null) is not None
        jinjava.registerExpTest(new SimpleTest("string", v -> v instanceof CharSequence));
        jinjava.registerExpTest(new SimpleTest("mapping", v -> v instanceof Map<?, ?>));
        jinjava.registerExpTest(new SimpleTest("iterable", v -> v instanceof CharSequence || v instanceof Map<?, ?>
                || v instanceof Iterable<?> || (v != null && v.getClass().isArray())));
        jinjava.registerExpTest(new SimpleTest("sequence", v -> v instanceof CharSequence || v instanceof Map<?, ?>
                || v instanceof Collection<?> || (v != null && v.getClass().isArray())));
    }

    // ------------------------------------------------------------------ functions

    /**
     * Longest {@code range()}: 1 Mi items. Far beyond any chat template's needs; it bounds a loop's
     * work. Past it, {@code range} fails the render (Jinjava's own range silently stops at 1000).
     */
    public static final int MAX_RANGE = 1 << 20;

    /** Python {@code range(stop)}, {@code range(start, stop[, step])}. */
    public static List<Object> range(Object... args) {
        if (args == null || args.length == 0 || args.length > 3) throw new IllegalArgumentException("range expected 1 to 3 arguments");
        long[] v = new long[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = PyValues.unwrap(args[i]);
            if (!(a instanceof Long || a instanceof Integer)) {
                throw new IllegalArgumentException("'" + PyValues.typeName(a) + "' object cannot be interpreted as an integer");
            }
            v[i] = ((Number) a).longValue();
        }
        long start = args.length == 1 ? 0 : v[0], stop = args.length == 1 ? v[0] : v[1], step = args.length == 3 ? v[2] : 1;
        if (step == 0) throw new IllegalArgumentException("range() arg 3 must not be zero");
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= MAX_RANGE) throw new IllegalArgumentException("range() longer than " + MAX_RANGE + " items");
            out.add(i);
        }
        return out;
    }

    /** A Python tuple of the arguments. */
    public static PyTuple tuple(Object... items) {
        return new PyTuple(items == null ? List.of() : java.util.Arrays.asList(items));
    }

    /** The item at {@code index} of a loop's items, or undefined (null) outside them. */
    public static Object item(Object items, Object index) {
        List<Object> list = PyValues.toList(items);
        long i = ((Number) PyValues.unwrap(index)).longValue();
        return i >= 0 && i < list.size() ? list.get((int) i) : null;
    }

    /** jinja2's global {@code dict(**kwargs)}. */
    public static Map<String, Object> dict(Object... params) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        if (params != null) {
            for (Object p : params) {
                if (p instanceof com.hubspot.jinjava.el.ext.NamedParameter np) out.put(np.getName(), PyValues.unwrap(np.getValue()));
                else if (p instanceof Map<?, ?> m) m.forEach((k, v) -> out.put(String.valueOf(k), v));
                else throw new IllegalArgumentException("dict() takes keyword arguments");
            }
        }
        return out;
    }

    private static Object defined(Object v, String message) {
        if (v == null) throw new IllegalArgumentException(message);
        return v;
    }

    /** Python {@code len()}: code points of a string; an Undefined has length 0. */
    private static long length(Object v) {
        if (v == null) return 0;
        if (v instanceof CharSequence cs) return cs.toString().codePointCount(0, cs.length());
        if (v instanceof Map<?, ?> m) return m.size();
        if (v instanceof Collection<?> c) return c.size();
        if (v.getClass().isArray()) return java.lang.reflect.Array.getLength(v);
        throw new IllegalArgumentException("object of type '" + PyValues.typeName(v) + "' has no len()");
    }

    /** The items of an iterable value (an Undefined is empty), or a TypeError. */
    private static List<Object> iterable(Object v) {
        if (v == null) return List.of();
        if (v instanceof CharSequence || v instanceof Map<?, ?> || PyValues.isListLike(v)) return PyValues.toList(v);
        throw new IllegalArgumentException("'" + PyValues.typeName(v) + "' object is not iterable");
    }

    private static Object sortKey(Object o, Object attr, boolean caseSensitive) {
        Object key = attr != null && o instanceof Map<?, ?> m ? m.get(PyValues.str(attr)) : o;
        return !caseSensitive && key instanceof String str ? str.toLowerCase(Locale.ROOT) : key;
    }

    private static Object extreme(Object v, Map<String, Object> kw, boolean max) {
        List<Object> items = PyValues.toList(v);
        if (items.isEmpty()) return null; // jinja2 returns Undefined for an empty sequence
        Object attr = kw.get("attribute");
        boolean caseSensitive = PyValues.truthy(kw.get("case_sensitive"));
        Object best = null, bestKey = null;
        for (Object o : items) {
            Object key = attr != null && o instanceof Map<?, ?> m ? m.get(PyValues.str(attr)) : o;
            if (!caseSensitive && key instanceof String str) key = str.toLowerCase(Locale.ROOT);
            if (best == null || compare(key, bestKey) * (max ? 1 : -1) > 0) {
                best = o;
                bestKey = key;
            }
        }
        return best;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static int compare(Object a, Object b) {
        a = PyValues.unwrap(a);
        b = PyValues.unwrap(b);
        if (a instanceof Number x && b instanceof Number y) return Double.compare(x.doubleValue(), y.doubleValue());
        if (a instanceof Comparable ca && b != null && a.getClass() == b.getClass()) return ca.compareTo(b);
        throw new IllegalArgumentException("'<' not supported between instances of '" + PyValues.typeName(a) + "' and '" + PyValues.typeName(b) + "'");
    }

    public static Object raiseException(Object message) {
        throw new RaisedException(PyValues.str(message));
    }

    public static String strftimeNow(Object format) {
        JinjavaInterpreter interpreter = JinjavaInterpreter.getCurrent();
        Object now = interpreter == null ? null : interpreter.getContext().get(NOW_VAR);
        LocalDateTime t = now instanceof LocalDateTime ldt ? ldt : LocalDateTime.now();
        return strftime(t, PyValues.str(format));
    }

    /** Python slice {@code seq[start:stop:step]} of a string or a sequence. */
    public static Object slice(Object seq, Object start, Object stop, Object step) {
        seq = PyValues.unwrap(seq);
        if (seq == null) throw new IllegalArgumentException("'NoneType' object is not subscriptable");
        boolean isString = seq instanceof CharSequence;
        List<Object> items = PyValues.toList(seq);
        int n = items.size();
        if (start instanceof PyNone) start = null;
        if (stop instanceof PyNone) stop = null;
        if (step instanceof PyNone) step = null;
        long st = step == null ? 1 : asLong(step);
        if (st == 0) throw new IllegalArgumentException("slice step cannot be zero");
        long lo, hi;
        if (st > 0) {
            lo = start == null ? 0 : clamp(asLong(start), n, 0, n);
            hi = stop == null ? n : clamp(asLong(stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clamp(asLong(start), n, -1, n - 1);
            hi = stop == null ? -1 : clamp(asLong(stop), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) out.add(items.get((int) i));
        if (!isString) return out;
        StringBuilder sb = new StringBuilder();
        for (Object o : out) sb.append(o);
        return sb.toString();
    }

    private static long clamp(long i, int n, long min, long max) {
        if (i < 0) i += n;
        return Math.max(min, Math.min(max, i));
    }

    private static long asLong(Object o) {
        o = PyValues.unwrap(o);
        if (o instanceof Number num && !(o instanceof Double || o instanceof Float)) return num.longValue();
        throw new IllegalArgumentException("slice indices must be integers or None");
    }

    /** Python {@code datetime.strftime} for a naive local time, C locale ({@code %z}, {@code %Z} are empty). */
    public static String strftime(LocalDateTime t, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            boolean noPad = false;
            if (d == '-' && i + 1 < fmt.length()) { // glibc extension: %-d
                noPad = true;
                d = fmt.charAt(++i);
            }
            String v = switch (d) {
                case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
                case 'w' -> String.valueOf(t.getDayOfWeek().getValue() % 7);
                case 'd' -> pad(t.getDayOfMonth(), 2, noPad);
                case 'e' -> noPad ? String.valueOf(t.getDayOfMonth()) : String.format("%2d", t.getDayOfMonth());
                case 'b', 'h' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
                case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
                case 'm' -> pad(t.getMonthValue(), 2, noPad);
                case 'y' -> pad(t.getYear() % 100, 2, noPad);
                case 'Y' -> String.valueOf(t.getYear());
                case 'H' -> pad(t.getHour(), 2, noPad);
                case 'I' -> pad(t.getHour() % 12 == 0 ? 12 : t.getHour() % 12, 2, noPad);
                case 'p' -> t.getHour() < 12 ? "AM" : "PM";
                case 'M' -> pad(t.getMinute(), 2, noPad);
                case 'S' -> pad(t.getSecond(), 2, noPad);
                case 'f' -> String.format("%06d", t.getNano() / 1000);
                case 'j' -> pad(t.getDayOfYear(), 3, noPad);
                case 'U' -> pad((t.getDayOfYear() + 6 - (t.getDayOfWeek().getValue() % 7)) / 7, 2, noPad);
                case 'W' -> pad((t.getDayOfYear() + 6 - ((t.getDayOfWeek().getValue() + 6) % 7)) / 7, 2, noPad);
                case 'V' -> pad(t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR), 2, noPad);
                case 'G' -> String.valueOf(t.get(IsoFields.WEEK_BASED_YEAR));
                case 'u' -> String.valueOf(t.get(ChronoField.DAY_OF_WEEK));
                case 'z', 'Z' -> "";
                case 'c' -> strftime(t, "%a %b %e %H:%M:%S %Y");
                case 'x' -> strftime(t, "%m/%d/%y");
                case 'X' -> strftime(t, "%H:%M:%S");
                case 'D' -> strftime(t, "%m/%d/%y");
                case 'F' -> strftime(t, "%Y-%m-%d");
                case 'T' -> strftime(t, "%H:%M:%S");
                case 'R' -> strftime(t, "%H:%M");
                case 'n' -> "\n";
                case 't' -> "\t";
                case '%' -> "%";
                default -> "%" + (noPad ? "-" : "") + d;
            };
            sb.append(v);
        }
        return sb.toString();
    }

    private static String pad(int v, int width, boolean noPad) {
        String s = String.valueOf(v);
        return noPad || s.length() >= width ? s : "0".repeat(width - s.length()) + s;
    }

    // ------------------------------------------------------------------ adapters

    @FunctionalInterface
    interface FilterFn {
        Object apply(Object value, Object[] args, Map<String, Object> kwargs);
    }

    /** A filter that sees its arguments as objects (not strings), with Jinjava wrappers removed. */
    static final class SimpleFilter implements Filter {
        private final String name;
        private final FilterFn fn;

        SimpleFilter(String name, FilterFn fn) {
            this.name = name;
            this.fn = fn;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object[] a = args == null ? new Object[0] : args.clone();
            for (int i = 0; i < a.length; i++) a[i] = PyValues.unwrap(a[i]);
            Map<String, Object> kw = new java.util.LinkedHashMap<>();
            if (kwargs != null) kwargs.forEach((k, v) -> kw.put(k, PyValues.unwrap(v)));
            return fn.apply(PyValues.unwrap(var), a, kw);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, (Object[]) args, Map.of());
        }
    }

    static final class SimpleTest implements ExpTest {
        private final String name;
        private final java.util.function.Predicate<Object> test;

        SimpleTest(String name, java.util.function.Predicate<Object> test) {
            this.name = name;
            this.test = test;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return test.test(PyValues.unwrap(var));
        }
    }
}
