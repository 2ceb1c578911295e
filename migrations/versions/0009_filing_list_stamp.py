"""filing_list_stamps: replaced by triggers whenever a filing's live list changes

The review page compares the live list with the last snapshot on every view (a change made
behind the workflow's back must show at once); at 5,000 entries that digest is most of the
page. It is cached in the app under the filing's list stamp, and these triggers give the
filing a new random stamp whenever anything its digest covers changes: an entry of the filing
inserted, deleted or changed (filing, household, quantity, amount), or a listed household's ID
number or payout account, whoever writes it (the app, an import, or plain SQL). A stamp is
random, so a rolled-back change can never leave behind a stamp that a later, different list
reuses. A filing gets its stamp row from a trigger too, however it is inserted.

The stamps are a table of their own so that the triggers lock stamp rows, never `filings`
rows: an approval holds its filing row while it inserts SMS rows that reference the
households, and an import holds the households it updates; had the households' trigger needed
the filing row, the two would deadlock.

PostgreSQL: statement-level triggers with transition tables (one UPDATE of the stamps
touched, however many rows the statement wrote: adding a whole village is one statement).
SQLite: row-level triggers (SQLite has no other kind); household updates fire only when one of
the two digest fields really changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


PG_STAMP = "md5(random()::text || clock_timestamp()::text)"
SQLITE_STAMP = "lower(hex(randomblob(16)))"

PG_UPGRADE = [
    f"""
CREATE FUNCTION filings_first_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO filing_list_stamps (filing_id, stamp) VALUES (NEW.id, {PG_STAMP});
    RETURN NULL;
END $$""",
    """CREATE TRIGGER filings_first_stamp AFTER INSERT ON filings
       FOR EACH ROW EXECUTE FUNCTION filings_first_stamp()""",
    f"""
CREATE FUNCTION filing_entries_restamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE filing_list_stamps SET stamp = {PG_STAMP} WHERE filing_id IN (SELECT filing_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE filing_list_stamps SET stamp = {PG_STAMP} WHERE filing_id IN (SELECT filing_id FROM old_rows);
    ELSE
        UPDATE filing_list_stamps SET stamp = {PG_STAMP} WHERE filing_id IN (
            SELECT n.filing_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.filing_id, n.household_id, n.quantity, n.amount)
                  IS DISTINCT FROM (o.filing_id, o.household_id, o.quantity, o.amount)
            UNION
            SELECT o.filing_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.filing_id, n.household_id, n.quantity, n.amount)
                  IS DISTINCT FROM (o.filing_id, o.household_id, o.quantity, o.amount));
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER filing_entries_restamp_insert AFTER INSERT ON filing_entries
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION filing_entries_restamp()""",
    """CREATE TRIGGER filing_entries_restamp_update AFTER UPDATE ON filing_entries
       REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT
       EXECUTE FUNCTION filing_entries_restamp()""",
    """CREATE TRIGGER filing_entries_restamp_delete AFTER DELETE ON filing_entries
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION filing_entries_restamp()""",
    f"""
CREATE FUNCTION households_restamp_filings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE filing_list_stamps SET stamp = {PG_STAMP} WHERE filing_id IN (
        SELECT e.filing_id FROM filing_entries e
        JOIN new_rows n ON n.id = e.household_id JOIN old_rows o ON o.id = n.id
        WHERE (n.id_number, n.payout_account) IS DISTINCT FROM (o.id_number, o.payout_account));
    RETURN NULL;
END $$""",
    """CREATE TRIGGER households_restamp_filings AFTER UPDATE ON households
       REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT
       EXECUTE FUNCTION households_restamp_filings()""",
]
PG_DOWNGRADE = [
    "DROP TRIGGER households_restamp_filings ON households",
    "DROP FUNCTION households_restamp_filings()",
    "DROP TRIGGER filing_entries_restamp_delete ON filing_entries",
    "DROP TRIGGER filing_entries_restamp_update ON filing_entries",
    "DROP TRIGGER filing_entries_restamp_insert ON filing_entries",
    "DROP FUNCTION filing_entries_restamp()",
    "DROP TRIGGER filings_first_stamp ON filings",
    "DROP FUNCTION filings_first_stamp()",
]

SQLITE_UPGRADE = [
    f"""CREATE TRIGGER filings_first_stamp AFTER INSERT ON filings BEGIN
        INSERT INTO filing_list_stamps (filing_id, stamp) VALUES (NEW.id, {SQLITE_STAMP}); END""",
    f"""CREATE TRIGGER filing_entries_restamp_insert AFTER INSERT ON filing_entries BEGIN
        UPDATE filing_list_stamps SET stamp = {SQLITE_STAMP} WHERE filing_id = NEW.filing_id; END""",
    f"""CREATE TRIGGER filing_entries_restamp_update
        AFTER UPDATE OF filing_id, household_id, quantity, amount ON filing_entries BEGIN
        UPDATE filing_list_stamps SET stamp = {SQLITE_STAMP} WHERE filing_id IN (OLD.filing_id, NEW.filing_id); END""",
    f"""CREATE TRIGGER filing_entries_restamp_delete AFTER DELETE ON filing_entries BEGIN
        UPDATE filing_list_stamps SET stamp = {SQLITE_STAMP} WHERE filing_id = OLD.filing_id; END""",
    f"""CREATE TRIGGER households_restamp_filings AFTER UPDATE OF id_number, payout_account ON households
        WHEN OLD.id_number IS NOT NEW.id_number OR OLD.payout_account IS NOT NEW.payout_account BEGIN
        UPDATE filing_list_stamps SET stamp = {SQLITE_STAMP}
        WHERE filing_id IN (SELECT filing_id FROM filing_entries WHERE household_id = NEW.id); END""",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER households_restamp_filings",
    "DROP TRIGGER filing_entries_restamp_delete",
    "DROP TRIGGER filing_entries_restamp_update",
    "DROP TRIGGER filing_entries_restamp_insert",
    "DROP TRIGGER filings_first_stamp",
]


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        'filing_list_stamps',
        sa.Column('filing_id', sa.Integer(), nullable=False),
        sa.Column('stamp', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_filing_list_stamps_filing_id_filings'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('filing_id', name=op.f('pk_filing_list_stamps')),
    )
    op.execute(f"INSERT INTO filing_list_stamps (filing_id, stamp) "
               f"SELECT id, {PG_STAMP if postgres else SQLITE_STAMP} FROM filings")
    for statement in PG_UPGRADE if postgres else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWNGRADE if postgres else SQLITE_DOWNGRADE:
        op.execute(statement)
    op.drop_table('filing_list_stamps')
