import { type Kysely, type Migration, type MigrationProvider } from 'kysely';

// Migrations live in code (not files found at run time) so that a bundled or tsx-run service
// always carries exactly the migrations it was built with.
const migrations: Record<string, Migration> = {
  '0001_referrals_and_assessments': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('referrals')
        .addColumn('referral_id', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('nhs_number', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('referrals_received_idx').on('referrals').columns(['received_at', 'referral_id']).execute();
      await db.schema.createIndex('referrals_nhs_number_idx').on('referrals').column('nhs_number').execute();

      await db.schema
        .createTable('referral_versions')
        .addColumn('referral_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('raw_body', 'text', (c) => c.notNull())
        .addColumn('native_json', 'text', (c) => c.notNull())
        .addColumn('view_json', 'text', (c) => c.notNull())
        .addColumn('fhir_json', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('cause', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('referral_versions_pk', ['referral_id', 'version'])
        .execute();

      await db.schema
        .createTable('assessments')
        .addColumn('assessment_id', 'text', (c) => c.primaryKey())
        .addColumn('referral_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('raw_body', 'text', (c) => c.notNull())
        .addColumn('native_json', 'text', (c) => c.notNull())
        .addColumn('score_json', 'text', (c) => c.notNull())
        .addColumn('fhir_json', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('withdrawn_in_version', 'integer')
        .execute();
      await db.schema.createIndex('assessments_referral_idx').on('assessments').column('referral_id').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('assessments').execute();
      await db.schema.dropTable('referral_versions').execute();
      await db.schema.dropTable('referrals').execute();
    },
  },
  '0002_fhir_resources': {
    async up(db: Kysely<any>) {
      // Current version of each FHIR resource received at /fhir.
      await db.schema
        .createTable('fhir_resources')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('last_updated', 'text', (c) => c.notNull())
        .addColumn('resource_json', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('fhir_resources_pk', ['resource_type', 'id'])
        .execute();
      await db.schema.createIndex('fhir_resources_updated_idx').on('fhir_resources').columns(['resource_type', 'last_updated', 'id']).execute();

      // Every version, the current one included (vread and _history).
      await db.schema
        .createTable('fhir_resource_versions')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('last_updated', 'text', (c) => c.notNull())
        .addColumn('resource_json', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('fhir_resource_versions_pk', ['resource_type', 'id', 'version_id'])
        .execute();

      // The guard against duplicates: one resource per (type, identifier system|value). The key
      // refuses the second insert even when two creates run at the same moment.
      await db.schema
        .createTable('fhir_identifiers')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('system', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('fhir_identifiers_pk', ['resource_type', 'system', 'value'])
        .execute();
      await db.schema.createIndex('fhir_identifiers_resource_idx').on('fhir_identifiers').columns(['resource_type', 'id']).execute();

      // One row per indexed search value; dates carry their UTC range in low/high.
      await db.schema
        .createTable('fhir_search_index')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('param', 'text', (c) => c.notNull())
        .addColumn('system', 'text')
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('low', 'text')
        .addColumn('high', 'text')
        .execute();
      await db.schema.createIndex('fhir_search_index_value_idx').on('fhir_search_index').columns(['resource_type', 'param', 'value']).execute();
      await db.schema.createIndex('fhir_search_index_resource_idx').on('fhir_search_index').columns(['resource_type', 'id']).execute();

      // The response given to each X-Request-ID, replayed when the same request is retried.
      await db.schema
        .createTable('request_log')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('body_hash', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('headers_json', 'text', (c) => c.notNull())
        .addColumn('body_text', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('request_log').execute();
      await db.schema.dropTable('fhir_search_index').execute();
      await db.schema.dropTable('fhir_identifiers').execute();
      await db.schema.dropTable('fhir_resource_versions').execute();
      await db.schema.dropTable('fhir_resources').execute();
    },
  },
  '0003_identifier_value_index': {
    // A search by identifier value alone (any system: `identifier=<value>`, `patient:identifier=<value>`)
    // reads the identifier key table; without this index it would read every identifier of the type.
    async up(db: Kysely<any>) {
      await db.schema.createIndex('fhir_identifiers_value_idx').on('fhir_identifiers').columns(['resource_type', 'value']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('fhir_identifiers_value_idx').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const migrationNames = Object.keys(migrations);
