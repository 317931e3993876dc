package dev.sluice.engine.scheduler;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.ContextOverflowException;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.PagedKVCache;
import dev.sluice.engine.runtime.SequenceOutput;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching at iteration level: many sequences share each forward step of one model.
 *
 * <p>Design note. One engine thread runs a loop; each iteration
 * <ol>
 *   <li>finishes sequences that were cancelled or whose deadline passed (their KV blocks return
 *       to the pool), so a cancelled sequence leaves the batch within one step;</li>
 *   <li>admits waiting sequences, highest priority first, then oldest, while fewer than
 *       {@link SchedulerConfig#maxRunning()} run and the free KV blocks hold the head's tokens;</li>
 *   <li>builds a step under {@link SchedulerConfig#stepTokenBudget()}: one token for each
 *       decoding sequence first, then chunks of prompt for sequences still in prefill (chunked
 *       prefill, mixed with decode). When a decoding sequence needs a new block and none is
 *       free, the newest sequence of the lowest priority is <em>preempted</em>: its blocks are
 *       freed and it goes back to the queue, to be recomputed later (prompt and tokens generated
 *       so far re-prefilled; its stream just continues);</li>
 *   <li>runs one {@link Transformer#forwardBatch batched forward} and samples each sequence that
 *       reached its last token with its own sampler ({@link SequenceOutput}: stop ids, stop
 *       strings, {@code maxTokens}, text streaming as {@link Generator}).</li>
 * </ol>
 *
 * <p>Guarantees: with {@link SchedulerConfig#batchInvariant()} (the default) a sequence's logits,
 * hence its greedy tokens, and its seeded samples, are identical whether it runs alone, in a
 * batch, chunked differently or after preemption. The waiting queue is bounded ({@link
 * QueueFullException}); a preempted sequence re-enters it regardless of the bound. A sequence
 * ends with {@link FinishReason#LENGTH} at {@code maxTokens}, at the model's context, or when
 * it alone would outgrow the whole KV pool.
 *
 * <p>Concurrency: {@link #submit}, {@link SequenceHandle#cancel} and {@link #stats} may be called
 * from any thread; the queue is guarded by a lock, everything else belongs to the engine thread,
 * which also calls the listeners (they must not block).
 */
public final class Scheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);
    /** Highest priority first, then submission order. */
    private static final Comparator<Seq> ORDER = Comparator.<Seq>comparingInt(s -> -s.priority).thenComparingLong(s -> s.id);

    private final Transformer model;
    private final Tokenizer tokenizer;
    private final SchedulerConfig config;
    private final PagedKVCache pool;
    /** Longest a sequence may get: the model's context and the whole pool. */
    private final int maxLength;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final PriorityQueue<Seq> waiting = new PriorityQueue<>(ORDER);
    private final List<Seq> running = new ArrayList<>();
    // engine-thread buffers reused from step to step, so that a decode step allocates nothing
    private final List<Seq> step = new ArrayList<>(), order = new ArrayList<>(), aborted = new ArrayList<>();
    private final List<int[]> chunks = new ArrayList<>();
    private PagedKVCache.Sequence[] kvs = new PagedKVCache.Sequence[0];
    private boolean[] want = new boolean[0];
    private int[][] chunkArray = new int[0][];
    /** Per step slot, the logits of the sequence in that slot ({@code vocabSize} floats, allocated on first use). */
    private float[][] logits = new float[0][];
    private Transformer.Workspace workspace;
    private final Thread engine;
    private long nextId;
    private boolean closed;

    private volatile int waitingCount, runningCount;
    private volatile long preemptions, steps, tokensForwarded, finished;

    /**
     * Starts the engine thread.
     *
     * @param tokenizer for text and stop strings; null for token-level output
     * @throws IllegalArgumentException when the KV budget is below one block
     */
    public Scheduler(Transformer model, Tokenizer tokenizer, SchedulerConfig config) {
        this.model = model;
        this.workspace = model.newWorkspace();
        this.tokenizer = tokenizer;
        this.config = config;
        // never more than every running sequence at full context needs
        long perBlock = PagedKVCache.bytesPerBlock(model.config(), config.blockSize());
        long fullBytes = (long) config.maxRunning() * ((model.maxContext() + config.blockSize() - 1) / config.blockSize()) * perBlock;
        this.pool = PagedKVCache.ofBudget(model.config(), config.blockSize(), Math.min(config.kvCacheBytes(), fullBytes));
        this.maxLength = (int) Math.min(model.maxContext(), pool.capacityTokens());
        log.info("scheduler: {} KV blocks of {} positions ({} MiB), max running {}, step budget {} tokens, max waiting {}{}",
                pool.totalBlocks(), pool.blockSize(), pool.totalBlocks() * perBlock >> 20, config.maxRunning(), config.stepTokenBudget(),
                config.maxWaiting(), config.batchInvariant() ? "" : ", batch-invariance off");
        this.engine = Thread.ofPlatform().name("sluice-scheduler").daemon().start(this::loop);
    }

    /** A scheduler over {@code model}'s forward pass and tokenizer. */
    public static Scheduler of(LoadedModel model, SchedulerConfig config) {
        return new Scheduler(model.transformer(), model.tokenizer(), config);
    }

    public SchedulerConfig config() {
        return config;
    }

    /** Longest prompt plus output a sequence may reach: the model's context, capped by the whole KV pool. */
    public int maxSequenceLength() {
        return maxLength;
    }

    /**
     * Queues a sequence; never blocks.
     *
     * @param priority      higher runs first and is preempted last
     * @param deadlineNanos {@link System#nanoTime()} after which the sequence finishes with
     *                      {@link FinishReason#DEADLINE}; {@link Long#MAX_VALUE} for none
     * @param listener      receives the stream on the engine thread; may be null
     * @throws QueueFullException       when {@link SchedulerConfig#maxWaiting()} sequences wait already
     * @throws ContextOverflowException when the prompt leaves no room for a token within {@link #maxSequenceLength()}
     * @throws IllegalArgumentException for an empty prompt or a token outside the vocabulary
     * @throws IllegalStateException    after {@link #close()}
     */
    public SequenceHandle submit(int[] prompt, SamplingParams params, int priority, long deadlineNanos, SequenceListener listener) {
        if (prompt.length == 0) throw new IllegalArgumentException("empty prompt: at least one token (e.g. BOS) is needed");
        if (prompt.length >= maxLength) throw new ContextOverflowException(prompt.length + 1, maxLength);
        int vocab = model.config().vocabSize();
        for (int t : prompt) {
            if (t < 0 || t >= vocab) throw new IllegalArgumentException("token id " + t + " outside vocabulary [0, " + vocab + ")");
        }
        SequenceListener l = listener != null ? listener : new SequenceListener() {};
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("scheduler is closed");
            if (waiting.size() >= config.maxWaiting()) throw new QueueFullException(waiting.size());
            Seq s = new Seq(nextId++, prompt.clone(), params, priority, deadlineNanos, l);
            waiting.add(s);
            waitingCount = waiting.size();
            wake.signal();
            return s;
        } finally {
            lock.unlock();
        }
    }

    /** True when {@link #submit} would accept a sequence now. */
    public boolean hasRoom() {
        return waitingCount < config.maxWaiting();
    }

    public SchedulerStats stats() {
        return new SchedulerStats(waitingCount, runningCount, pool.usedBlocks(), pool.totalBlocks(), pool.blockSize(), preemptions,
                steps, tokensForwarded, finished);
    }

    /** Stops the engine thread after its current step; sequences still waiting or running finish {@link FinishReason#CANCELLED}. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
        if (Thread.currentThread() != engine) {
            try {
                engine.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- engine thread

    private void loop() {
        try {
            while (true) {
                if (!admit()) break;
                step.clear();
                chunks.clear();
                buildStep(step, chunks);
                if (step.isEmpty()) continue;
                forward(step, chunks);
            }
        } catch (Throwable t) {
            log.error("scheduler engine thread died", t);
        } finally {
            shutdown();
        }
    }

    /** Reaps finished-by-flag sequences, waits for work, admits from the queue. Returns false once closed. */
    private boolean admit() {
        for (Iterator<Seq> it = running.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            FinishReason r = s.abortReason();
            if (r != null) {
                it.remove();
                end(s, r);
            }
        }
        List<Seq> aborted = this.aborted;
        aborted.clear();
        lock.lock();
        try {
            while (true) {
                for (Iterator<Seq> it = waiting.iterator(); it.hasNext(); ) {
                    Seq s = it.next();
                    if (s.abortReason() != null) {
                        it.remove();
                        aborted.add(s);
                    }
                }
                if (closed) return false;
                // blocks the running sequences still need for their known tokens and one more
                int pending = 0;
                for (Seq s : running) pending += s.kv.blocksNeeded(s.total() + 1);
                while (running.size() < config.maxRunning() && !waiting.isEmpty()) {
                    Seq head = waiting.peek();
                    int need = pool.blocksFor(head.total() + 1);
                    if (!running.isEmpty() && pending + need > pool.freeBlocks()) break;
                    waiting.poll();
                    head.kv = pool.newSequence();
                    running.add(head);
                    pending += need;
                }
                waitingCount = waiting.size();
                runningCount = running.size();
                if (!running.isEmpty() || !aborted.isEmpty()) return true;
                try {
                    // a waiting sequence's deadline can pass while nothing runs: poll
                    if (waiting.isEmpty()) wake.await();
                    else wake.awaitNanos(TimeUnit.MILLISECONDS.toNanos(10));
                } catch (InterruptedException e) {
                    closed = true;
                }
            }
        } finally {
            lock.unlock();
            for (Seq s : aborted) end(s, s.abortReason());
            aborted.clear();
        }
    }

    private void buildStep(List<Seq> step, List<int[]> chunks) {
        List<Seq> order = this.order;
        order.clear();
        order.addAll(running);
        order.sort(ORDER);
        int budget = config.stepTokenBudget();
        // decode first: one token each, preempting when the pool is out of blocks
        for (Seq s : order) {
            if (s.kv == null || s.remaining() != 1 || budget == 0) continue;
            while (s.kv != null && !s.kv.reserve(s.kv.length() + 1)) {
                Seq victim = victim();
                int at = step.indexOf(victim);
                if (at >= 0) {
                    step.remove(at);
                    chunks.remove(at);
                    budget++;
                }
                preempt(victim);
            }
            if (s.kv == null) continue;
            step.add(s);
            chunks.add(s.tokens(s.kv.length(), 1));
            budget--;
        }
        // then chunked prefill, as far as the budget and the free blocks go
        for (Seq s : order) {
            if (s.kv == null || s.remaining() <= 1 || budget == 0) continue;
            int room = s.kv.capacity() - s.kv.length() + pool.freeBlocks() * pool.blockSize();
            int m = Math.min(Math.min(s.remaining(), budget), room);
            if (m <= 0) continue;
            s.kv.reserve(s.kv.length() + m);
            step.add(s);
            chunks.add(s.tokens(s.kv.length(), m));
            budget -= m;
        }
        if (step.isEmpty() && running.size() > 1) {
            // sequences in prefill hold all the blocks and none can advance: recompute the newest later
            preempt(victim());
        }
    }

    /** The newest sequence of the lowest priority among the running ones. */
    private Seq victim() {
        Seq v = null;
        for (Seq s : running) {
            if (v == null || s.priority < v.priority || (s.priority == v.priority && s.id > v.id)) v = s;
        }
        return v;
    }

    private void preempt(Seq s) {
        running.remove(s);
        s.kv.release();
        s.kv = null;
        s.preemptions++;
        preemptions++;
        lock.lock();
        try {
            waiting.add(s);
            waitingCount = waiting.size();
            runningCount = running.size();
        } finally {
            lock.unlock();
        }
    }

    private void forward(List<Seq> step, List<int[]> chunks) {
        int B = step.size();
        if (kvs.length < B) {
            int m = Math.max(B, 2 * kvs.length);
            kvs = new PagedKVCache.Sequence[m];
            want = new boolean[m];
            chunkArray = new int[m][];
            logits = Arrays.copyOf(logits, m);
        }
        int tokens = 0;
        for (int i = 0; i < B; i++) {
            Seq s = step.get(i);
            kvs[i] = s.kv;
            chunkArray[i] = chunks.get(i);
            want[i] = s.kv.length() + chunks.get(i).length == s.total();
            if (want[i] && logits[i] == null) logits[i] = new float[model.config().vocabSize()];
            tokens += chunks.get(i).length;
        }
        try {
            model.forwardBatch(chunkArray, kvs, B, pool, want, config.batchInvariant(), workspace, logits);
        } catch (RuntimeException e) {
            log.error("batched forward failed; failing its {} sequences", B, e);
            for (Seq s : step) {
                running.remove(s);
                fail(s, e);
            }
            return;
        }
        steps++;
        tokensForwarded += tokens;
        for (int i = 0; i < B; i++) {
            if (!want[i]) continue;
            Seq s = step.get(i);
            try {
                int before = s.out.count();
                Generator.FinishReason r = s.out.accept(logits[i]);
                if (before == 0 && s.firstTokenNanos < 0) s.firstTokenNanos = System.nanoTime() - s.submitted;
                FinishReason reason = r == null ? null : r == Generator.FinishReason.STOP ? FinishReason.STOP : FinishReason.LENGTH;
                if (reason == null && s.kv.length() >= maxLength) reason = FinishReason.LENGTH;
                if (reason != null) {
                    running.remove(s);
                    end(s, reason);
                }
            } catch (RuntimeException e) {
                running.remove(s);
                fail(s, e);
            }
        }
        runningCount = running.size();
        Arrays.fill(kvs, 0, B, null);
        Arrays.fill(chunkArray, 0, B, null);
    }

    /** Frees the sequence's blocks, flushes its text and completes it. */
    private void end(Seq s, FinishReason reason) {
        release(s);
        finished++;
        try {
            s.out.finish(reason.toGenerator());
            SequenceResult r = new SequenceResult(s.out.tokens(), s.out.text(), reason, s.prompt.length, s.preemptions,
                    s.firstTokenNanos, System.nanoTime() - s.submitted);
            s.listener.onFinish(r);
            s.result.complete(r);
        } catch (RuntimeException e) {
            s.result.completeExceptionally(e);
        }
    }

    private void fail(Seq s, RuntimeException e) {
        release(s);
        finished++;
        try {
            s.listener.onError(e);
        } catch (RuntimeException suppressed) {
            e.addSuppressed(suppressed);
        }
        s.result.completeExceptionally(e);
    }

    private void release(Seq s) {
        if (s.kv != null) {
            s.kv.release();
            s.kv = null;
        }
        runningCount = running.size();
    }

    private void shutdown() {
        List<Seq> all = new ArrayList<>(running);
        running.clear();
        lock.lock();
        try {
            closed = true;
            all.addAll(waiting);
            waiting.clear();
            waitingCount = 0;
        } finally {
            lock.unlock();
        }
        for (Seq s : all) end(s, FinishReason.CANCELLED);
        runningCount = 0;
    }

    /** A sequence's state; fields other than {@code cancelled} belong to the engine thread. */
    private final class Seq implements SequenceHandle {
        final long id;
        final int[] prompt;
        final int priority;
        final long deadline;
        final long submitted = System.nanoTime();
        final SequenceListener listener;
        final SequenceOutput out;
        final CompletableFuture<SequenceResult> result = new CompletableFuture<>();
        volatile boolean cancelled;
        PagedKVCache.Sequence kv;
        int preemptions;
        long firstTokenNanos = -1;

        Seq(long id, int[] prompt, SamplingParams params, int priority, long deadline, SequenceListener listener) {
            this.id = id;
            this.prompt = prompt;
            this.priority = priority;
            this.deadline = deadline;
            this.listener = listener;
            this.out = new SequenceOutput(tokenizer, params, model.config().vocabSize(), prompt, listener);
        }

        /** Prompt plus tokens generated so far. */
        int total() {
            return prompt.length + out.count();
        }

        /** Tokens not yet in the KV cache. */
        int remaining() {
            return total() - kv.length();
        }

        /** The one-token chunk of a decode step, reused from step to step. */
        private final int[] next = new int[1];

        int[] tokens(int from, int n) {
            int[] t = n == 1 ? next : new int[n];
            for (int i = 0; i < n; i++) {
                int p = from + i;
                t[i] = p < prompt.length ? prompt[p] : out.token(p - prompt.length);
            }
            return t;
        }

        FinishReason abortReason() {
            if (cancelled) return FinishReason.CANCELLED;
            if (deadline != Long.MAX_VALUE && System.nanoTime() - deadline >= 0) return FinishReason.DEADLINE;
            return null;
        }

        @Override
        public long id() {
            return id;
        }

        @Override
        public void cancel() {
            if (cancelled) return;
            cancelled = true;
            lock.lock();
            try {
                wake.signal();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public CompletableFuture<SequenceResult> result() {
            return result;
        }
    }
}
