package dev.sluice.engine.template.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * A lexical pre-pass that makes Jinjava see a template as Python jinja2 sees it.
 *
 * <p>Design note. Hugging Face renders chat templates with jinja2 configured with {@code
 * trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False}. Jinjava's own whitespace
 * options differ in detail (its lstrip strips before any tag, not only at line start), so this pass
 * applies jinja2's lexer rules itself, exactly as {@code jinja2/lexer.py} does, and hands Jinjava a
 * template whose text already is what jinja2 would output, with every whitespace modifier
 * ({@code -}, {@code +}) removed. It also rewrites, inside tags only, the few expression forms
 * Jinjava's parser lacks:
 *
 * <ul>
 *   <li>string literals are decoded with Python's escape rules ({@code \\uXXXX}, {@code \\xXX},
 *       unknown escapes kept) and re-encoded with only the escapes Jinjava knows;
 *   <li>every slice {@code x[a:b:c]} becomes {@code __sluice_slice(x, a, b, c)} (Python slice
 *       semantics, including steps such as {@code [::-1]});
 *   <li>{@code none}/{@code None} literals become {@code __sluice_none()}, Python's None, distinct from
 *       Jinjava's null, which stands for jinja2's Undefined (the {@code is none} test is kept);
 *   <li>a filtered loop {@code for x in xs if cond} becomes a pre-filtering loop plus a plain loop
 *       over the kept items, so {@code loop.last} and {@code loop.index} count kept items only;
 *   <li>{@code if}/{@code elif} conditions are wrapped in {@code __sluice_truth(...)}, Python truthiness
 *       (Jinjava's if tag takes the string {@code "false"} for false);
 *   <li>a loop's {@code else} branch becomes an {@code if} after the loop that tests whether the
 *       loop's items were empty (Jinjava has no for-else);
 *   <li>a {@code {% filter f %}} block becomes a block set plus the filtered variable;
 *   <li>{@code loop.previtem}/{@code loop.nextitem} become a lookup in the loop's items;
 *   <li>{@code {% generation %}} markers (transformers' assistant-mask extension) are dropped.
 * </ul>
 *
 * <p>Comments are removed. Raw blocks are passed through as Jinjava raw blocks. The class is
 * stateless and thread-safe; {@link #rewrite} throws {@link IllegalArgumentException} with a line
 * number for unterminated tags, comments and strings.
 */
public final class JinjaSourceRewriter {
    /** Name of the slice helper function the rewrite calls. */
    public static final String SLICE_FN = "__sluice_slice";
    /** Name of the function that gives Python's None, for the {@code none} literal. */
    public static final String NONE_FN = "__sluice_none";
    /** Name of the function that makes a Python tuple. */
    public static final String TUPLE_FN = "__sluice_tuple";
    /** Name of the function that gives a loop's previous or next item. */
    public static final String NEIGHBOR_FN = "__sluice_item";
    /** Name of the Python-truthiness function wrapped around if/elif conditions. */
    public static final String TRUTH_FN = "__sluice_truth";

    private final String src;
    private final StringBuilder out = new StringBuilder();
    private int pos;
    private boolean lineStarting = true;
    private int loopFilterCount;
    private boolean inMacroSignature;
    /** Open block tags, innermost last; a for-loop records what its else-branch tests. */
    private final java.util.ArrayDeque<Block> blocks = new java.util.ArrayDeque<>();

    private static final class Block {
        final String name;
        String loopItems; // for loops: an expression that is empty iff the loop ran zero times
        String filterVar; // filter blocks: the variable that captures the body
        String filterExpr; // filter blocks: the filter chain to apply
        boolean inElse;

        Block(String name) {
            this.name = name;
        }
    }

    private static final java.util.Set<String> BODY_TAGS = java.util.Set.of(
            "if", "for", "macro", "call", "filter", "with", "block", "autoescape");
    private final java.util.Set<String> filters = new java.util.TreeSet<>();
    private final java.util.Set<String> tests = new java.util.TreeSet<>();

    /**
     * A rewritten template, and the filter and test names it uses (jinja2 rejects unknown ones when
     * it compiles a template; Jinjava would silently ignore an unknown filter).
     */
    public record Result(String source, java.util.Set<String> filters, java.util.Set<String> tests) {}

    private JinjaSourceRewriter(String src) {
        this.src = src;
    }

    /** Rewrites a jinja2 template source into an equivalent Jinjava template source. */
    public static Result rewrite(String source) {
        JinjaSourceRewriter r = new JinjaSourceRewriter(normalizeNewlines(source));
        r.run();
        return new Result(r.out.toString(), java.util.Set.copyOf(r.filters), java.util.Set.copyOf(r.tests));
    }

    /** jinja2: {@code \r\n} and {@code \r} become {@code \n}, and one trailing newline is dropped. */
    static String normalizeNewlines(String s) {
        String n = s.replace("\r\n", "\n").replace('\r', '\n');
        return n.endsWith("\n") ? n.substring(0, n.length() - 1) : n;
    }

    private void run() {
        while (pos < src.length()) {
            int start = nextOpener(pos);
            if (start < 0) {
                emitData(src.substring(pos));
                pos = src.length();
                break;
            }
            char kind = src.charAt(start + 1); // '%', '{' or '#'
            int afterOpener = start + 2;
            char sign = afterOpener < src.length() && (src.charAt(afterOpener) == '-' || src.charAt(afterOpener) == '+')
                    ? src.charAt(afterOpener) : 0;
            String text = src.substring(pos, start);
            if (sign == '-') {
                text = PyValues.strip(text, null, false, true);
            } else if (sign != '+' && kind != '{') { // lstrip_blocks: blocks and comments, not variables
                int lpos = text.lastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && lpos < text.length() && allSpace(text, lpos)) {
                    text = text.substring(0, lpos);
                }
            }
            emitData(text);
            int bodyStart = afterOpener + (sign != 0 ? 1 : 0);
            switch (kind) {
                case '#' -> comment(start, bodyStart);
                case '{' -> variable(start, bodyStart);
                default -> block(start, bodyStart);
            }
        }
    }

    private int nextOpener(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '%' || c == '{' || c == '#') return i;
        }
        return -1;
    }

    private static boolean allSpace(String s, int from) {
        for (int i = from; i < s.length(); i++) if (!PyValues.isSpace(s.charAt(i))) return false;
        return true;
    }

    private void emitData(String text) {
        if (text.isEmpty()) return;
        if (text.endsWith("{")) { // would merge with the next emitted tag's opener in Jinjava
            out.append(text, 0, text.length() - 1).append("{{ '{' }}");
        } else {
            out.append(text);
        }
    }

    // ------------------------------------------------------------------ tags

    private void comment(int start, int bodyStart) {
        int end = src.indexOf("#}", bodyStart);
        if (end < 0) throw syntax("unterminated comment", start);
        char before = end > bodyStart ? src.charAt(end - 1) : 0;
        pos = end + 2;
        afterTagEnd(before == '-' ? '-' : before == '+' ? '+' : 0);
    }

    private void variable(int start, int bodyStart) {
        int[] end = findTagEnd(start, bodyStart, '}');
        String body = src.substring(bodyStart, end[0]);
        String expr = rewriteExpression(body, start).strip();
        if (expr.startsWith("-") || expr.startsWith("+")) expr = "(" + expr + ")"; // else Jinjava takes it for a trim marker
        out.append("{{ ").append(expr).append(" }}");
        afterTagEnd((char) end[1]);
    }

    private void block(int start, int bodyStart) {
        int[] end = findTagEnd(start, bodyStart, '%');
        String body = src.substring(bodyStart, end[0]).strip();
        String name = body.split("[^A-Za-z0-9_]", 2)[0];
        if (name.equals("raw")) {
            raw(start);
            return;
        }
        afterTagEnd((char) end[1]);
        if (BODY_TAGS.contains(name) || (name.equals("set") && !topLevelAssignment(body, start))) {
            blocks.addLast(new Block(name));
        }
        switch (name) {
            case "generation", "endgeneration" -> { } // transformers' assistant-mask markers render nothing
            case "for" -> forTag(body, start);
            case "filter" -> { // Jinjava has no filter block: capture the body, then filter it
                Block b = blocks.peekLast();
                b.filterVar = "__sluice_filter" + (loopFilterCount++);
                b.filterExpr = render(tokenize(body, start).subList(1, tokenize(body, start).size())).strip();
                out.append("{% set ").append(b.filterVar).append(" %}");
            }
            case "else" -> {
                Block b = blocks.peekLast();
                if (b != null && b.name.equals("for")) { // for-else: runs when the loop ran zero times
                    b.inElse = true;
                    out.append("{% endfor %}{% if not ").append(TRUTH_FN).append('(').append(b.loopItems).append(") %}");
                } else {
                    out.append("{% else %}");
                }
            }
            case "macro" -> { // Jinjava parses a macro's signature itself: leave default values as written
                inMacroSignature = true;
                out.append("{% ").append(rewriteExpression(body, start)).append(" %}");
                inMacroSignature = false;
            }
            case "if", "elif" -> { // Jinjava's if tag judges truth itself, by Java rules: ask Python's
                List<Tok> toks = tokenize(body, start);
                String cond = render(toks.subList(1, toks.size())).strip();
                out.append("{% ").append(name).append(' ').append(TRUTH_FN).append('(').append(cond).append(") %}");
            }
            default -> {
                if (name.startsWith("end") && !blocks.isEmpty() && blocks.peekLast().name.equals(name.substring(3))) {
                    Block b = blocks.removeLast();
                    if (b.filterVar != null) {
                        out.append("{% endset %}{{ ").append(b.filterVar).append(" | ").append(b.filterExpr).append(" }}");
                        return;
                    }
                    if (b.inElse) {
                        out.append("{% endif %}");
                        return;
                    }
                }
                out.append("{% ").append(rewriteExpression(body, start)).append(" %}");
            }
        }
    }

    /** Whether a set tag assigns ({@code set x = ...}) rather than opening a block ({@code set x %}...{% endset}). */
    private boolean topLevelAssignment(String body, int at) {
        int depth = 0;
        for (Tok t : tokenize(body, at)) {
            if (t.type != Tok.OP) continue;
            depth += depthDelta(t.text);
            if (depth == 0 && t.text.equals("=")) return true;
        }
        return false;
    }

    /** Returns {end of body, trailing sign} and leaves {@code pos} after the closing delimiter. */
    private int[] findTagEnd(int start, int bodyStart, char closer) {
        int depth = 0;
        int i = bodyStart;
        while (i < src.length()) {
            char c = src.charAt(i);
            if (c == '\'' || c == '"') {
                i = skipString(i);
                continue;
            }
            if (depth == 0) {
                if ((c == '-' || c == '+') && src.startsWith(closer + "}", i + 1) && (c == '-' || closer == '%')) {
                    pos = i + 3;
                    return new int[] {i, c};
                }
                if (c == closer && i + 1 < src.length() && src.charAt(i + 1) == '}') {
                    pos = i + 2;
                    return new int[] {i, 0};
                }
            }
            if (c == '(' || c == '[' || c == '{') depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
            i++;
        }
        throw syntax("unterminated " + (closer == '%' ? "block tag" : "variable tag"), start);
    }

    /** trim_blocks and explicit right-trims, after a tag or comment ending at {@code pos}. */
    private void afterTagEnd(char sign) {
        boolean isVariableEnd = src.charAt(pos - 2) == '}' && src.charAt(pos - 1) == '}' ;
        if (sign == '-') {
            while (pos < src.length() && PyValues.isSpace(src.charAt(pos))) pos++;
        } else if (sign == 0 && !isVariableEnd && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
        }
        lineStarting = src.charAt(pos - 1) == '\n';
    }

    private void raw(int start) {
        // jinja2: {%[-+]?\s*raw\s*(-%}\s*|%}) ... {%[-+]?\s*endraw\s*(+%}|-%}\s*|%}\n?)
        int beginEnd = src.indexOf("%}", start);
        boolean trimAfterBegin = src.charAt(beginEnd - 1) == '-';
        int p = beginEnd + 2;
        if (trimAfterBegin) while (p < src.length() && PyValues.isSpace(src.charAt(p))) p++;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}").matcher(src);
        if (!m.find(p)) throw syntax("missing endraw", start);
        String content = src.substring(p, m.start());
        if (m.group(1).equals("-")) {
            content = PyValues.strip(content, null, false, true);
        } else if (!m.group(1).equals("+")) {
            int lpos = content.lastIndexOf('\n') + 1;
            if (lpos > 0 && lpos < content.length() && allSpace(content, lpos)) content = content.substring(0, lpos);
        }
        if (!content.isEmpty()) out.append("{% raw %}").append(content).append("{% endraw %}");
        pos = m.end();
        afterTagEnd(m.group(2).isEmpty() ? 0 : m.group(2).charAt(0));
    }

    private void forTag(String body, int start) {
        List<Tok> toks = tokenize(body, start);
        int ifAt = -1, inAt = -1, depth = 0;
        for (int i = 0; i < toks.size(); i++) {
            Tok t = toks.get(i);
            if (t.type == Tok.OP) depth += depthDelta(t.text);
            else if (depth == 0 && t.type == Tok.NAME && t.text.equals("in") && inAt < 0) inAt = i;
            else if (depth == 0 && t.type == Tok.NAME && t.text.equals("if") && inAt >= 0) {
                ifAt = i;
                break;
            }
        }
        Block loop = blocks.peekLast();
        if (ifAt < 0) {
            if (loop != null && inAt >= 0) loop.loopItems = render(toks.subList(inAt + 1, toks.size())).strip();
            out.append("{% ").append(render(toks)).append(" %}");
            return;
        }
        String vars = render(toks.subList(1, inAt)).strip();
        String iter = render(toks.subList(inAt + 1, ifAt)).strip();
        String cond = render(toks.subList(ifAt + 1, toks.size())).strip();
        String ns = "__sluice_loop" + (loopFilterCount++);
        if (loop != null) loop.loopItems = ns + ".seq";
        String item = vars.contains(",") ? "[" + TUPLE_FN + "(" + vars + ")]" : "[" + vars + "]";
        out.append("{% set ").append(ns).append(" = namespace(seq=[]) %}")
                .append("{% for ").append(vars).append(" in ").append(iter).append(" %}")
                .append("{% if ").append(TRUTH_FN).append('(').append(cond).append(") %}")
                .append("{% set ").append(ns).append(".seq = ").append(ns).append(".seq + ").append(item).append(" %}")
                .append("{% endif %}{% endfor %}")
                .append("{% for ").append(vars).append(" in ").append(ns).append(".seq %}");
    }

    private IllegalArgumentException syntax(String what, int at) {
        int line = 1;
        for (int i = 0; i < at && i < src.length(); i++) if (src.charAt(i) == '\n') line++;
        return new IllegalArgumentException(what + " (line " + line + ")");
    }

    // ------------------------------------------------------------------ expressions

    private record Tok(int type, String text) {
        static final int WS = 0, NAME = 1, NUM = 2, STR = 3, OP = 4, RAW = 5;
    }

    private int skipString(int i) {
        char q = src.charAt(i);
        int j = i + 1;
        while (j < src.length()) {
            char c = src.charAt(j);
            if (c == '\\') j += 2;
            else if (c == q) return j + 1;
            else j++;
        }
        throw syntax("unterminated string", i);
    }

    private String rewriteExpression(String body, int at) {
        return render(tokenize(body, at));
    }

    private List<Tok> tokenize(String body, int at) {
        List<Tok> toks = new ArrayList<>();
        int i = 0, n = body.length();
        while (i < n) {
            char c = body.charAt(i);
            int j = i + 1;
            if (PyValues.isSpace(c)) {
                while (j < n && PyValues.isSpace(body.charAt(j))) j++;
                toks.add(new Tok(Tok.WS, " "));
            } else if (Character.isLetter(c) || c == '_') {
                while (j < n && (Character.isLetterOrDigit(body.charAt(j)) || body.charAt(j) == '_')) j++;
                toks.add(new Tok(Tok.NAME, body.substring(i, j)));
            } else if (Character.isDigit(c)) {
                while (j < n && (Character.isLetterOrDigit(body.charAt(j)) || body.charAt(j) == '.' || body.charAt(j) == '_')) j++;
                toks.add(new Tok(Tok.NUM, body.substring(i, j).replace("_", "")));
            } else if (c == '\'' || c == '"') {
                StringBuilder sb = new StringBuilder();
                while (true) {
                    if (j >= n) throw syntax("unterminated string", at);
                    char d = body.charAt(j++);
                    if (d == c) break;
                    if (d != '\\') {
                        sb.append(d);
                        continue;
                    }
                    if (j >= n) throw syntax("unterminated string", at);
                    j = unescape(body, j, sb);
                }
                toks.add(new Tok(Tok.STR, sb.toString()));
            } else {
                String two = j < n ? body.substring(i, j + 1) : "";
                if (two.equals("**") || two.equals("//") || two.equals("==") || two.equals("!=")
                        || two.equals("<=") || two.equals(">=")) {
                    j++;
                }
                toks.add(new Tok(Tok.OP, body.substring(i, j)));
            }
            i = j;
        }
        return toks;
    }

    /** Python unicode-escape decoding of one escape starting after the backslash at {@code j}. */
    private static int unescape(String s, int j, StringBuilder sb) {
        char e = s.charAt(j++);
        switch (e) {
            case '\n' -> { }
            case '\\' -> sb.append('\\');
            case '\'' -> sb.append('\'');
            case '"' -> sb.append('"');
            case 'a' -> sb.append('\u0007');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'v' -> sb.append('\u000b');
            case 'x', 'u', 'U' -> {
                int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (j + len > s.length()) throw new IllegalArgumentException("truncated \\" + e + " escape");
                sb.appendCodePoint(Integer.parseInt(s.substring(j, j + len), 16));
                j += len;
            }
            default -> {
                if (e >= '0' && e <= '7') {
                    int k = j - 1, v = 0;
                    while (k < s.length() && k < j + 2 && s.charAt(k) >= '0' && s.charAt(k) <= '7') v = v * 8 + (s.charAt(k++) - '0');
                    sb.append((char) v);
                    j = k;
                } else {
                    sb.append('\\').append(e); // Python keeps unknown escapes verbatim
                }
            }
        }
        return j;
    }

    private static int depthDelta(String op) {
        return switch (op) {
            case "(", "[", "{" -> 1;
            case ")", "]", "}" -> -1;
            default -> 0;
        };
    }

    /** Renders tokens back to Jinjava expression text, applying the rewrites. */
    private String render(List<Tok> toks) {
        List<Tok> ts = wrapUnaryNot(rewriteSlices(new ArrayList<>(toks)));
        if (!inMacroSignature) ts = wrapNamedArguments(ts);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ts.size(); i++) {
            Tok t = ts.get(i);
            switch (t.type) {
                case Tok.STR -> sb.append(quote(t.text));
                case Tok.NAME -> {
                    String neighbor = loopNeighbor(ts, i);
                    if (neighbor != null) { // loop.previtem / loop.nextitem, which Jinjava lacks
                        sb.append(neighbor);
                        i += 2;
                        continue;
                    }
                    int p = prevSignificant(ts, i);
                    if (p >= 0 && ts.get(p).type == Tok.OP && ts.get(p).text.equals("|")) filters.add(t.text);
                    if (afterIs(ts, i) && !t.text.equals("not")) tests.add(t.text);
                    if ((t.text.equals("none") || t.text.equals("None")) && !afterIs(ts, i) && !afterDot(ts, i)) sb.append(NONE_FN + "()");
                    else sb.append(t.text);
                }
                case Tok.OP -> {
                    if (t.text.equals("}") && !sb.isEmpty() && sb.charAt(sb.length() - 1) == '}') sb.append(' ');
                    sb.append(t.text);
                }
                default -> sb.append(t.text);
            }
        }
        return sb.toString();
    }

    private static final java.util.Set<String> KEYWORDS = java.util.Set.of(
            "and", "or", "not", "if", "elif", "else", "in", "is", "for", "set", "print", "do", "return", "with");

    /**
     * Python binds {@code not} looser than comparisons and tests ({@code not a == b} is
     * {@code not (a == b)}, {@code not x is defined} is {@code not (x is defined)}); JUEL binds it
     * tighter. Parenthesize each unary {@code not}'s operand, which runs to the next top-level
     * {@code and}, {@code or}, {@code if}, {@code else}, comma, colon or closing bracket.
     */
    private static List<Tok> wrapUnaryNot(List<Tok> ts) {
        List<Tok> out = new ArrayList<>(ts.size() + 8);
        List<Integer> open = new ArrayList<>(); // depth inside each inserted "(", innermost last
        int depth = 0;
        for (int i = 0; i < ts.size(); i++) {
            Tok t = ts.get(i);
            boolean boundary = (t.type == Tok.NAME && (t.text.equals("and") || t.text.equals("or")
                    || t.text.equals("if") || t.text.equals("else")))
                    || (t.type == Tok.OP && (t.text.equals(",") || t.text.equals(":") || depthDelta(t.text) < 0));
            if (boundary) {
                while (!open.isEmpty() && open.getLast() == depth) {
                    out.add(new Tok(Tok.OP, ")"));
                    open.removeLast();
                    depth--;
                }
            }
            if (t.type == Tok.OP) depth += depthDelta(t.text);
            out.add(t);
            if (t.type == Tok.NAME && t.text.equals("not") && isUnaryPosition(ts, i)) {
                out.add(new Tok(Tok.OP, "("));
                open.add(++depth);
            }
        }
        for (int k = 0; k < open.size(); k++) out.add(new Tok(Tok.OP, ")"));
        return out;
    }

    /**
     * Jinjava's {@code name=value} operator binds tighter than arithmetic and filters
     * ({@code f(n=xs|length - 1)} would pass {@code (n=xs|length) - 1}); parenthesize each keyword
     * argument's value, up to the next comma or closing bracket of its call.
     */
    private static List<Tok> wrapNamedArguments(List<Tok> ts) {
        List<Tok> out = new ArrayList<>(ts.size() + 8);
        List<Integer> open = new ArrayList<>(); // depth inside each inserted "(", innermost last
        int depth = 0;
        for (int i = 0; i < ts.size(); i++) {
            Tok t = ts.get(i);
            if (t.type == Tok.OP && (t.text.equals(",") || depthDelta(t.text) < 0)) {
                while (!open.isEmpty() && open.getLast() == depth) {
                    out.add(new Tok(Tok.OP, ")"));
                    open.removeLast();
                    depth--;
                }
            }
            if (t.type == Tok.OP) depth += depthDelta(t.text);
            out.add(t);
            if (t.type == Tok.OP && t.text.equals("=") && depth > 0) {
                int p = prevSignificant(ts, i);
                if (p >= 0 && ts.get(p).type == Tok.NAME) {
                    out.add(new Tok(Tok.OP, "("));
                    open.add(++depth);
                }
            }
        }
        for (int k = 0; k < open.size(); k++) out.add(new Tok(Tok.OP, ")"));
        return out;
    }

    private static boolean isUnaryPosition(List<Tok> ts, int i) {
        int p = prevSignificant(ts, i);
        if (p < 0) return true;
        Tok prev = ts.get(p);
        if (prev.type == Tok.NAME) return !prev.text.equals("is") && KEYWORDS.contains(prev.text);
        if (prev.type == Tok.OP) return depthDelta(prev.text) >= 0;
        return false; // a literal: this is "x not in y"
    }

    /** For {@code loop.previtem}/{@code loop.nextitem} at {@code i}: a call on the innermost loop's items. */
    private String loopNeighbor(List<Tok> ts, int i) {
        if (i + 2 >= ts.size() || !ts.get(i).text.equals("loop") || ts.get(i).type != Tok.NAME || afterDot(ts, i)
                || !ts.get(i + 1).text.equals(".") || ts.get(i + 2).type != Tok.NAME) {
            return null;
        }
        String which = ts.get(i + 2).text;
        if (!which.equals("previtem") && !which.equals("nextitem")) return null;
        Block loop = null;
        for (java.util.Iterator<Block> it = blocks.descendingIterator(); it.hasNext(); ) {
            Block b = it.next();
            if (b.name.equals("for") && b.loopItems != null) {
                loop = b;
                break;
            }
        }
        if (loop == null) return null;
        return NEIGHBOR_FN + "(" + loop.loopItems + ", loop.index0 " + (which.equals("previtem") ? "- 1" : "+ 1") + ")";
    }

    private static boolean afterIs(List<Tok> ts, int i) {
        int p = prevSignificant(ts, i);
        if (p < 0 || ts.get(p).type != Tok.NAME) return false;
        if (ts.get(p).text.equals("is")) return true;
        if (!ts.get(p).text.equals("not")) return false;
        int q = prevSignificant(ts, p);
        return q >= 0 && ts.get(q).type == Tok.NAME && ts.get(q).text.equals("is");
    }

    private static boolean afterDot(List<Tok> ts, int i) {
        int p = prevSignificant(ts, i);
        return p >= 0 && ts.get(p).type == Tok.OP && ts.get(p).text.equals(".");
    }

    private static int prevSignificant(List<Tok> ts, int i) {
        for (int p = i - 1; p >= 0; p--) if (ts.get(p).type != Tok.WS) return p;
        return -1;
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("'");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '\'' -> sb.append("\\'");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> sb.append(c);
            }
        }
        return sb.append('\'').toString();
    }

    /**
     * Replaces each subscript whose brackets hold a top-level ':' by a call of the slice helper,
     * innermost first. A subscript follows its primary directly: a name, literal, or closing bracket.
     */
    private List<Tok> rewriteSlices(List<Tok> ts) {
        for (int open = 0; open < ts.size(); open++) {
            Tok t = ts.get(open);
            if (t.type != Tok.OP || !t.text.equals("[")) continue;
            int close = matching(ts, open);
            if (close < 0) return ts;
            List<Integer> colons = new ArrayList<>();
            int depth = 0;
            for (int k = open + 1; k < close; k++) {
                Tok u = ts.get(k);
                if (u.type == Tok.OP) {
                    depth += depthDelta(u.text);
                    if (depth == 0 && u.text.equals(":")) colons.add(k);
                }
            }
            if (colons.isEmpty() || colons.size() > 2) continue;
            int primaryStart = primaryStart(ts, open);
            if (primaryStart < 0) continue;
            List<Tok> base = ts.subList(primaryStart, open);
            List<List<Tok>> parts = new ArrayList<>();
            int from = open + 1;
            for (int c : colons) {
                parts.add(ts.subList(from, c));
                from = c + 1;
            }
            parts.add(ts.subList(from, close));
            while (parts.size() < 3) parts.add(List.of());
            StringBuilder call = new StringBuilder(SLICE_FN).append('(').append(render(base));
            for (List<Tok> p : parts) {
                String r = render(p).strip();
                call.append(", ").append(r.isEmpty() ? "null" : r);
            }
            call.append(')');
            List<Tok> next = new ArrayList<>(ts.subList(0, primaryStart));
            next.add(new Tok(Tok.RAW, call.toString())); // already rendered
            next.addAll(ts.subList(close + 1, ts.size()));
            return rewriteSlices(next);
        }
        return ts;
    }

    private static int matching(List<Tok> ts, int open) {
        int depth = 0;
        for (int k = open; k < ts.size(); k++) {
            Tok u = ts.get(k);
            if (u.type != Tok.OP) continue;
            depth += depthDelta(u.text);
            if (depth == 0) return k;
        }
        return -1;
    }

    /** Start index of the postfix chain (primary plus attribute, call and subscript suffixes) ending before {@code end}. */
    private static int primaryStart(List<Tok> ts, int end) {
        int k = end - 1;
        while (k >= 0) {
            Tok t = ts.get(k);
            if (t.type == Tok.OP && (t.text.equals(")") || t.text.equals("]") || t.text.equals("}"))) {
                int s = matchingBack(ts, k);
                if (s < 0) return -1;
                if (s > 0 && endsPrimary(ts.get(s - 1)) && !t.text.equals("}")) {
                    k = s - 1; // a call or subscript suffix: keep walking back
                    continue;
                }
                return s; // a parenthesized expression or a literal is itself a primary
            }
            if (t.type == Tok.NAME || t.type == Tok.NUM || t.type == Tok.STR || t.type == Tok.RAW) {
                if (k >= 2 && ts.get(k - 1).type == Tok.OP && ts.get(k - 1).text.equals(".")) {
                    k -= 2; // attribute access
                    continue;
                }
                return k;
            }
            return -1;
        }
        return -1;
    }

    private static boolean endsPrimary(Tok t) {
        return t.type == Tok.NAME || t.type == Tok.STR || t.type == Tok.RAW
                || (t.type == Tok.OP && (t.text.equals(")") || t.text.equals("]")));
    }

    private static int matchingBack(List<Tok> ts, int close) {
        int depth = 0;
        for (int k = close; k >= 0; k--) {
            Tok u = ts.get(k);
            if (u.type != Tok.OP) continue;
            depth += depthDelta(u.text);
            if (depth == 0) return k;
        }
        return -1;
    }
}
