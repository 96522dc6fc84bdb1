package dev.tokenvault.connection;

import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

/**
 * Who holds a refresh lease: {@code <replica name>@<process start, epoch ms>#<random>}. A replica restarted under the
 * same stable name (a StatefulSet pod, a pod restarted in place after a crash) recognises the leases of its previous
 * process by the name and an earlier start, and takes them back at once instead of waiting for them to expire: a pod
 * name is never used by two live processes at once. Without a stable name (no {@code tokenvault.replica-name} and no
 * {@code HOSTNAME}) nothing is taken back early.
 */
public record LeaseOwner(String id, String reclaimPrefix, long startedAtMillis) {

    public static LeaseOwner of(Optional<String> replicaName, Instant processStart) {
        String random = UUID.randomUUID().toString().substring(0, 8);
        String name = replicaName.filter(n -> !n.isBlank()).map(String::strip).orElse(null);
        String id = (name == null ? "local" : name) + "@" + processStart.toEpochMilli() + "#" + random;
        return new LeaseOwner(id, name == null ? null : name + "@", processStart.toEpochMilli());
    }

    /**
     * SQL condition: the lease in {@code column} was taken by an earlier process of this replica. Takes two bind
     * parameters: the reclaim prefix ({@code $prefixParam}, null disables) and this process's start.
     */
    static String previousProcessOf(String column, int prefixParam, int startParam) {
        return "($" + prefixParam + "::text is not null and starts_with(" + column + ", $" + prefixParam + ") "
                + "and substring(" + column + " from '@([0-9]{1,19})#')::bigint < $" + startParam + ")";
    }
}
