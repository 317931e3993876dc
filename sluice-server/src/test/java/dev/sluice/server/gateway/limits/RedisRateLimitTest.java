package dev.sluice.server.gateway.limits;

/** {@link RateLimitTest}'s tests with the buckets and concurrency slots in the real Redis (fallback closed: a Redis failure fails the test). */
class RedisRateLimitTest extends RateLimitTest.InRedis {}
