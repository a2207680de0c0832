# Texts of the board and home pages: ir.message records (board.xml), sent
# to the page in the user's language so the page itself holds no text.
from trytond.i18n import gettext

# key: message id suffix (crm_portal.msg_board_label_<key>)
LABELS = [
    'deal_board', 'lead_board', 'home', 'pipeline', 'scope', 'mine',
    'team', 'all', 'responsible', 'anyone', 'period', 'any_time', 'today',
    'week', 'month', 'quarter', 'year', 'search', 'more', 'add', 'title',
    'amount', 'client', 'create', 'cancel', 'lost_prompt', 'move',
    'refused', 'overdue', 'no_activity', 'session', 'open', 'reload',
    'activities', 'deals_by_stage', 'funnel', 'calls', 'conversations',
    'nothing', 'reached', 'lost', 'count',
    ]


def labels(kind=None):
    "The page texts in the user's language: key -> text"
    return {key: gettext('crm_portal.msg_board_label_' + key)
        for key in LABELS}
