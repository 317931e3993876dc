package dev.sluice.server.store;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes records asynchronously, in batches, through a bounded queue: usage records, stored
 * completions, anything the request path must hand off without waiting on the database.
 *
 * <p>Design note: producers {@link #offer} from any thread (event loops included) and never block.
 * One writer thread drains up to {@code batchSize} records at a time, at least every
 * {@code flushInterval}, and hands them to the {@link Sink}. A batch that fails is kept and
 * retried with backoff (1 s doubling to 30 s), so a database outage loses nothing until the queue
 * is full; then new records are refused: {@link #offer} returns false, the refusal is counted
 * ({@code sluice_store_records_dropped_total}) and logged at most every 10 s. {@link #close}
 * stops accepting, then writes everything queued (retrying failed batches) for up to its drain
 * timeout, so a graceful shutdown loses nothing while the database is reachable.
 *
 * @param <T> record type
 */
public final class BatchWriter<T> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BatchWriter.class);
    /** Records that may wait: 100,000 (at ~200 bytes each, ~20 MB), minutes of traffic at thousands of requests/s. */
    public static final int DEFAULT_CAPACITY = 100_000;
    /** Records per write: 500, one multi-row statement's worth. */
    public static final int DEFAULT_BATCH_SIZE = 500;
    /** Longest a record waits before its batch is written: 200 ms (usage totals lag by about this). */
    public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofMillis(200);
    /** How long {@link #close} keeps writing what is queued: 10 s. */
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(10);

    /** Writes one batch; throws when it cannot (the batch is retried). */
    @FunctionalInterface
    public interface Sink<T> {
        void write(List<T> batch) throws Exception;
    }

    private final String name;
    private final Sink<T> sink;
    private final BlockingQueue<T> queue;
    private final int batchSize;
    private final Duration flushInterval;
    private final Duration drainTimeout;
    private final Thread thread;
    private final AtomicLong offered = new AtomicLong(), written = new AtomicLong(), dropped = new AtomicLong();
    private final Counter droppedCounter, writtenCounter, failedCounter;
    private volatile boolean closing;
    private volatile long drainDeadline = Long.MAX_VALUE;
    private volatile long lastDropLog;

    public BatchWriter(String name, Sink<T> sink, MeterRegistry metrics) {
        this(name, sink, metrics, DEFAULT_CAPACITY, DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL, DEFAULT_DRAIN_TIMEOUT);
    }

    public BatchWriter(String name, Sink<T> sink, MeterRegistry metrics, int capacity, int batchSize, Duration flushInterval, Duration drainTimeout) {
        if (capacity < 1) throw new IllegalArgumentException(name + ": capacity must be >= 1, got " + capacity);
        if (batchSize < 1) throw new IllegalArgumentException(name + ": batchSize must be >= 1, got " + batchSize);
        this.name = name;
        this.sink = sink;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.batchSize = batchSize;
        this.flushInterval = flushInterval;
        this.drainTimeout = drainTimeout;
        droppedCounter = Counter.builder("sluice.store.records_dropped").description("Records refused because the write queue was full")
                .tag("writer", name).register(metrics);
        writtenCounter = Counter.builder("sluice.store.records_written").description("Records written to the store").tag("writer", name).register(metrics);
        failedCounter = Counter.builder("sluice.store.batch_failures").description("Batch writes that failed and were retried").tag("writer", name).register(metrics);
        Gauge.builder("sluice.store.queue_depth", queue, BlockingQueue::size).description("Records waiting to be written").tag("writer", name).register(metrics);
        thread = Thread.ofPlatform().name("sluice-writer-" + name).daemon(true).start(this::run);
    }

    /** Queues {@code record}; false (counted, logged) when the writer is closed or its queue is full. Never blocks. */
    public boolean offer(T record) {
        if (closing || !queue.offer(record)) {
            dropped.incrementAndGet();
            droppedCounter.increment();
            long now = System.nanoTime();
            if (now - lastDropLog > TimeUnit.SECONDS.toNanos(10)) {
                lastDropLog = now;
                log.error("{} writer: {} record(s) dropped so far ({})", name, dropped.get(), closing ? "closed" : "queue full: the store is down or too slow");
            }
            return false;
        }
        offered.incrementAndGet();
        return true;
    }

    /** Blocks until every record offered before this call has been written, or {@code timeout} passes; true when written. */
    public boolean flush(Duration timeout) {
        long target = offered.get();
        long end = System.nanoTime() + timeout.toNanos();
        while (written.get() < target) {
            if (System.nanoTime() > end) return false;
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** Records waiting now. */
    public int pending() {
        return queue.size();
    }

    public long dropped() {
        return dropped.get();
    }

    private void run() {
        List<T> batch = new ArrayList<>(batchSize);
        long backoffMs = 0;
        while (true) {
            try {
                if (batch.isEmpty()) {
                    T first = queue.poll(flushInterval.toMillis(), TimeUnit.MILLISECONDS);
                    if (first == null) {
                        if (closing && queue.isEmpty()) return;
                        continue;
                    }
                    batch.add(first);
                    queue.drainTo(batch, batchSize - 1);
                }
                try {
                    sink.write(List.copyOf(batch));
                    written.addAndGet(batch.size());
                    writtenCounter.increment(batch.size());
                    batch.clear();
                    backoffMs = 0;
                } catch (Exception e) {
                    failedCounter.increment();
                    backoffMs = backoffMs == 0 ? 1000 : Math.min(30_000, backoffMs * 2);
                    if (closing && System.nanoTime() > drainDeadline) {
                        log.error("{} writer: giving up at shutdown, {} record(s) not written: {}", name, batch.size() + queue.size(), e.toString());
                        return;
                    }
                    log.warn("{} writer: batch of {} failed, retrying in {} ms: {}", name, batch.size(), backoffMs, e.toString());
                    long wait = closing ? Math.min(backoffMs, 500) : backoffMs;
                    Thread.sleep(wait);
                }
            } catch (InterruptedException e) {
                if (!closing) Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Stops accepting, writes what is queued (up to the drain timeout), then stops. */
    @Override
    public void close() {
        if (closing) return;
        drainDeadline = System.nanoTime() + drainTimeout.toNanos();
        closing = true;
        try {
            thread.join(drainTimeout.plusSeconds(1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            thread.interrupt();
            log.error("{} writer: drain timeout, {} record(s) not written", name, queue.size());
        }
    }
}
