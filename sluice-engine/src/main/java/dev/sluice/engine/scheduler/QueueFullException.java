package dev.sluice.engine.scheduler;

/** {@link Scheduler#submit} refused a sequence: the waiting queue holds {@link SchedulerConfig#maxWaiting()} already. Retry later (HTTP 503). */
public final class QueueFullException extends RuntimeException {
    private final int waiting;

    public QueueFullException(int waiting) {
        super("the scheduler's waiting queue is full (" + waiting + " sequences); retry later");
        this.waiting = waiting;
    }

    /** Sequences waiting when the submission was refused. */
    public int waiting() {
        return waiting;
    }
}
