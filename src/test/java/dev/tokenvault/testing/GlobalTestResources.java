package dev.tokenvault.testing;

import io.quarkus.test.common.QuarkusTestResource;

/** Test resources every {@code @QuarkusTest} gets: a real PostgreSQL. */
@QuarkusTestResource(PostgresResource.class)
public class GlobalTestResources {
}
