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
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const migrationNames = Object.keys(migrations);
