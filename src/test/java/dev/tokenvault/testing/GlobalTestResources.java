package dev.tokenvault.testing;

import io.quarkus.test.common.QuarkusTestResource;

/** Test resources every {@code @QuarkusTest} gets: a real PostgreSQL and the HubSpot simulator. */
@QuarkusTestResource(PostgresResource.class)
@QuarkusTestResource(FakeHubSpotResource.class)
public class GlobalTestResources {
}
