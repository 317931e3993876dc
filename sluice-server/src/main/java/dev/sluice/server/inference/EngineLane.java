package dev.sluice.server.inference;

import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.sampling.SamplingParams;

import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Where {@link EngineInferenceModel} sends sequences to be generated: the seam between the HTTP
 * layer and the engine's execution strategy. {@link SingleSequenceLane} runs one sequence at a
 * time; a continuous-batching scheduler (many sequences per forward step, paged KV cache,
 * preemption) implements the same interface and reports its KV use and preemptions through
 * {@link #stats()}.
 *
 * <p>Contract: {@link #submit} never blocks; it either accepts the job or throws
 * {@link RejectedExecutionException} when the waiting queue is full. An accepted job gets
 * exactly one of {@link Job#done} or {@link Job#failed}, after its listener's events, all on
 * engine threads. {@link Job#cancelled} is polled at least once per forward step (and before
 * the job starts); once true the job finishes with {@link Generator.FinishReason#CANCELLED}
 * within one step and its KV memory is released.
 */
public interface EngineLane extends AutoCloseable {
    /** One sequence to generate. */
    record Job(int[] prompt, SamplingParams params, Generator.Listener listener, BooleanSupplier cancelled,
               Consumer<Generator.Result> done, Consumer<RuntimeException> failed) {}

    /** @throws RejectedExecutionException when the waiting queue is full */
    void submit(Job job);

    /** True when another job would be accepted now. */
    boolean hasRoom();

    EngineStats stats();

    /** Stops the engine threads; jobs still waiting are dropped. */
    @Override
    void close();
}
