package dev.tokenvault.callers;

import jakarta.enterprise.context.ApplicationScoped;

import dev.tokenvault.web.ApiException;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.smallrye.mutiny.Uni;

/**
 * Authenticates the bearer tokens of JAX-RS requests with {@link CallerVerifier} (ahead of smallrye-jwt's own provider,
 * which it replaces): a remembered token is answered on the calling thread, a new one is verified on a worker thread,
 * since its issuer's keys may have to be fetched.
 */
@ApplicationScoped
public class CallerIdentityProvider implements IdentityProvider<TokenAuthenticationRequest> {

    private final CallerVerifier verifier;

    CallerIdentityProvider(CallerVerifier verifier) {
        this.verifier = verifier;
    }

    @Override
    public Class<TokenAuthenticationRequest> getRequestType() {
        return TokenAuthenticationRequest.class;
    }

    @Override
    public int priority() {
        // before smallrye-jwt's MpJwtValidator (SYSTEM_FIRST, 1001): every bearer token is decided here
        return SYSTEM_FIRST + 1000;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request, AuthenticationRequestContext context) {
        String raw = request.getToken().getToken();
        CallerVerifier.Verified hit = verifier.cached(raw);
        if (hit != null) {
            return Uni.createFrom().item(hit.identity());
        }
        return context.runBlocking(() -> {
            try {
                return verifier.verify(raw).identity();
            } catch (ApiException e) {
                if (e.status() == 401) {
                    throw new AuthenticationFailedException();
                }
                throw e;
            }
        });
    }
}
