package dev.sluice.server.gateway.limits;

import java.time.Instant;

/**
 * One request's usage, as written to {@code usage_records}.
 *
 * @param at               when the response ended
 * @param tenant           the caller's tenant
 * @param project          the caller's project, or null
 * @param keyId            the API key's public id, or null
 * @param user             the end user, or null
 * @param model            the public model name asked for
 * @param version          the resolved model version, or null
 * @param route            {@code chat} or {@code completions}
 * @param promptTokens     prompt tokens (the response's usage, else the count at admission)
 * @param completionTokens completion tokens (the response's usage, else an estimate from the stream)
 * @param latencyMs        from admission to the end of the response
 * @param status           HTTP status; 499 when the client went away first
 * @param costMicros       cost at the model's prices, in micro-units
 */
public record UsageRecord(Instant at, String tenant, String project, String keyId, String user, String model, String version, String route,
                          int promptTokens, int completionTokens, int latencyMs, int status, long costMicros) {}
