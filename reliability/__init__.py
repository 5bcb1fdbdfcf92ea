"""The reliability harness: kills at random moments, injected write failures and fuzzed inputs."""
