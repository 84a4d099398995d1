/**
 * The @platformatic/kafka clients of the route log, imported by platformatic-log-topic.ts only when it first
 * creates the topic or reads it back. An idle sidecar whose route log topic exists does neither, and loading
 * them at start took their code and their option validators (compiled by ajv when imported) for nothing.
 */
export { Admin, Consumer } from '@platformatic/kafka';
