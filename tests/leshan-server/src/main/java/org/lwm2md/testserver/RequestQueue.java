package org.lwm2md.testserver;

import java.util.Collection;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

import org.eclipse.leshan.core.observation.Observation;
import org.eclipse.leshan.core.request.DownlinkDeviceManagementRequest;
import org.eclipse.leshan.core.request.exception.ClientSleepingException;
import org.eclipse.leshan.core.response.LwM2mResponse;
import org.eclipse.leshan.server.LeshanServer;
import org.eclipse.leshan.server.queue.PresenceListener;
import org.eclipse.leshan.server.registration.Registration;
import org.eclipse.leshan.server.registration.RegistrationListener;
import org.eclipse.leshan.server.registration.RegistrationUpdate;

/**
 * Sends device management requests; for a queue-mode client that is sleeping, keeps the (last) request until Leshan's
 * presence service reports the client awake, like the demo server does. The returned future is already done when the
 * request could be sent right away (its value is null on timeout).
 */
final class RequestQueue {

    private final LeshanServer server;
    private final ConcurrentMap<String, Pending> pendingByRegId = new ConcurrentHashMap<>();

    private static final class Pending {
        final DownlinkDeviceManagementRequest<?> request;
        final long timeoutMs;
        final CompletableFuture<LwM2mResponse> future;

        Pending(DownlinkDeviceManagementRequest<?> request, long timeoutMs, CompletableFuture<LwM2mResponse> future) {
            this.request = request;
            this.timeoutMs = timeoutMs;
            this.future = future;
        }
    }

    RequestQueue(LeshanServer server) {
        this.server = server;
        server.getPresenceService().addListener(new PresenceListener() {
            @Override
            public void onAwake(Registration registration) {
                Pending pending = pendingByRegId.remove(registration.getId());
                if (pending != null) {
                    sendLater(registration, pending);
                }
            }

            @Override
            public void onSleeping(Registration registration) {
            }
        });
        server.getRegistrationService().addListener(new RegistrationListener() {
            @Override
            public void registered(Registration registration, Registration previousReg,
                    Collection<Observation> previousObservations) {
            }

            @Override
            public void updated(RegistrationUpdate update, Registration updatedReg, Registration previousReg) {
            }

            @Override
            public void unregistered(Registration registration, Collection<Observation> observations,
                    boolean expired, Registration newReg) {
                Pending pending = pendingByRegId.remove(registration.getId());
                if (pending != null) {
                    pending.future.cancel(false);
                }
            }
        });
    }

    @SuppressWarnings({ "unchecked", "rawtypes" })
    private void sendLater(Registration registration, Pending pending) {
        try {
            server.send(registration, (DownlinkDeviceManagementRequest) pending.request, pending.timeoutMs,
                    response -> pending.future.complete((LwM2mResponse) response),
                    error -> pending.future.completeExceptionally(error));
        } catch (RuntimeException e) {
            pending.future.completeExceptionally(e);
        }
    }

    CompletableFuture<LwM2mResponse> send(Registration destination, DownlinkDeviceManagementRequest<?> request,
            long timeoutMs) throws InterruptedException {
        CompletableFuture<LwM2mResponse> future = new CompletableFuture<>();
        boolean queueMode = destination.usesQueueMode();
        boolean awake = server.getPresenceService().isClientAwake(destination);

        if (!queueMode || awake) {
            try {
                future.complete(server.send(destination, request, timeoutMs));
                return future;
            } catch (ClientSleepingException e) {
                if (!queueMode) {
                    throw e;
                }
                // fell asleep in between: queue it
            }
        }

        Pending pending = new Pending(request, timeoutMs, future);
        Pending previous = pendingByRegId.put(destination.getId(), pending);
        if (previous != null) {
            previous.future.cancel(false); // only the last request is kept
        }
        // the registration may have gone away while we were queuing
        pendingByRegId.computeIfPresent(destination.getId(), (id, current) -> {
            if (server.getRegistrationService().getById(id) == null) {
                current.future.cancel(false);
                return null;
            }
            return current;
        });
        return future;
    }
}
