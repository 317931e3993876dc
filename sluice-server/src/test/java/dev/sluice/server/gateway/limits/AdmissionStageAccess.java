package dev.sluice.server.gateway.limits;

import dev.sluice.server.gateway.ResponseTap;

/** Test access to {@link AdmissionStage}'s package-private helpers from other packages' tests. */
public final class AdmissionStageAccess {
    private AdmissionStageAccess() {}

    public static int estimateCompletion(ResponseTap.Outcome o) {
        return AdmissionStage.estimateCompletion(o);
    }
}
