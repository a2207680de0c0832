# Bitrix24 timeline comments (crm.timeline.comment.*): a comment is a
# done crm.activity of type note on a lead, deal, contact or company.
import datetime as dt

from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from . import rest_convert as rc
from . import rest_fields as rf
from . import rest_fields_entity as rfe
from .rest import RestMethod
from .rest_crm import (
    Entity, entity_fields, entity_get, entity_list, fields_param,
    record_id, rest_handler, visible)

__all__ = ['Rest', 'COMMENT']

# ENTITY_TYPE names -> activity OWNER_TYPE_ID codes
ENTITY_TYPES = {'lead': '1', 'deal': '2', 'contact': '3', 'company': '4'}
ENTITY_NAMES = {v: k for k, v in ENTITY_TYPES.items()}
SUBJECT_LENGTH = 80


def _type_codes(value):
    values = value if isinstance(value, (list, tuple)) else [value]
    codes = []
    for v in values:
        code = ENTITY_TYPES.get(str(v or '').strip().lower())
        if code is None:
            raise rc.invalid('ENTITY_TYPE', v)
        codes.append(code)
    return codes


def comment_fields():
    # The owner is read and searched as the activity's OWNER_TYPE_ID and
    # OWNER_ID are.
    owner = {f.name: f for f in rfe.activity_fields()
        if f.name in {'OWNER_TYPE_ID', 'OWNER_ID'}}

    def read_type(record, conv):
        return ENTITY_NAMES.get(owner['OWNER_TYPE_ID'].read(record, conv))

    def search_type(operator, value, conv):
        return owner['OWNER_TYPE_ID'].search(
            operator, _type_codes(value), conv)

    def write_comment(value, fields, record, conv):
        text = (rc.parse_text('COMMENT', value) or '').strip()
        if not text:
            raise rc.error('msg_rest_crm_required', field='COMMENT')
        subject = text.splitlines()[0]
        if len(subject) > SUBJECT_LENGTH:
            subject = subject[:SUBJECT_LENGTH - 1] + '…'
        return {'description': text, 'subject': subject}
    return [
        rf._id_field(),
        rf._datetime_field('CREATED', 'create_date'),
        rf.RestField('ENTITY_ID', 'integer', 'opportunity',
            read=owner['OWNER_ID'].read, search=owner['OWNER_ID'].search,
            required=True, title=lambda: 'ENTITY_ID'),
        rf.RestField('ENTITY_TYPE', 'string', 'opportunity',
            read=read_type, search=search_type, required=True,
            title=lambda: 'ENTITY_TYPE'),
        rf._uid_field('AUTHOR_ID', 'create_uid'),
        rf.RestField('COMMENT', 'string', 'description',
            read=lambda r, c: r.description, write=write_comment,
            search=rf._search_on('description'), required=True,
            title=lambda: 'COMMENT'),
        rf.RestField('FILES', 'attached_diskfile', None,
            read=lambda r, c: [], multiple=True, title=lambda: 'FILES'),
        ]


COMMENT = Entity('timeline_comment', 'crm.activity',
    [('type', '=', 'note')], {}, comment_fields, "Comment")


def _owner(fields):
    "The activity values of ENTITY_TYPE and ENTITY_ID"
    entity_type = str(fields.get('ENTITY_TYPE') or '').strip().lower()
    if entity_type not in ENTITY_TYPES:
        raise rc.invalid('ENTITY_TYPE', fields.get('ENTITY_TYPE'))
    if fields.get('ENTITY_ID') in (None, ''):
        raise rc.error('msg_rest_crm_required', field='ENTITY_ID')
    return rfe.owner('ENTITY_ID', ENTITY_TYPES[entity_type],
        fields['ENTITY_ID'], rc.Converter())


def comment_add(params):
    Activity = Pool().get('crm.activity')
    fields = fields_param(params)
    values = _owner(fields)
    values.update(COMMENT.fields['COMMENT'].write(
            fields.get('COMMENT'), fields, None, None))
    values.update({
            'company': Transaction().context.get('company'),
            'type': 'note',
            'deadline': dt.datetime.now(),
            'done': True,
            'responsible': Transaction().context.get('employee'),
            })
    activity, = Activity.create([values])
    return activity.id


def comment_list(params):
    filter_ = params.get('filter', params.get('FILTER'))
    keys = {str(k).upper().lstrip('=') for k in (
            filter_ if isinstance(filter_, dict) else {})}
    # Bitrix24 lists the comments of one record.
    for name in ['ENTITY_ID', 'ENTITY_TYPE']:
        if name not in keys:
            raise rc.error('msg_rest_crm_required', field='filter[%s]' % name)
    return entity_list(COMMENT, params)


def _comment(params):
    "The visible comment of the id parameter, of the owner if given"
    comment = visible(COMMENT, record_id(params))
    conv = rc.Converter()
    owner_type = params.get('ownerTypeId', params.get('OWNERTYPEID'))
    owner_id = params.get('ownerId', params.get('OWNERID'))
    fields = COMMENT.fields
    if owner_type not in (None, '') and str(owner_type).strip() != (
            ENTITY_TYPES.get(fields['ENTITY_TYPE'].read(comment, conv))):
        raise rc.not_found()
    if owner_id not in (None, '') and str(owner_id) != (
            fields['ENTITY_ID'].read(comment, conv)):
        raise rc.not_found()
    return comment


def comment_update(params):
    Activity = Pool().get('crm.activity')
    comment = _comment(params)
    fields = fields_param(params)
    if 'COMMENT' in fields:
        Activity.write([comment], COMMENT.fields['COMMENT'].write(
                fields['COMMENT'], fields, comment, None))
    return comment.id


def comment_delete(params):
    Activity = Pool().get('crm.activity')
    Activity.delete([_comment(params)])
    return True


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        owner = {'ownerTypeId': "1 lead, 2 deal, 3 contact, 4 company "
            "(optional check)", 'ownerId': "ID of the owner (optional "
            "check)"}
        for name, handler, description, params, paged, readonly in [
                ('add', comment_add,
                    "Add a comment to the timeline of a lead, deal, "
                    "contact or company; answers its ID",
                    {'fields': "ENTITY_ID, ENTITY_TYPE (lead, deal, "
                        "contact, company), COMMENT"}, False, False),
                ('get', lambda p: entity_get(COMMENT, p), "Read a comment",
                    {'id': "the ID"}, False, True),
                ('list', comment_list,
                    "List the comments of a record page by page (50 a page)",
                    {'filter': "ENTITY_ID and ENTITY_TYPE (required), "
                        "other fields as in crm.lead.list",
                        'select': "list of fields",
                        'order': "object FIELD -> ASC or DESC",
                        'start': "offset of the page"}, True, True),
                ('update', comment_update, "Change the text of a comment; "
                    "answers its ID",
                    dict(owner, id="the ID", fields="COMMENT"), False,
                    False),
                ('delete', comment_delete, "Delete a comment",
                    dict(owner, id="the ID"), False, False),
                ('fields', lambda p: entity_fields(COMMENT, p),
                    "Describe the fields of a comment", {}, False, True),
                ]:
            name = 'crm.timeline.comment.' + name
            methods[name] = RestMethod(name, rest_handler(handler), 'crm',
                description, params, paged=paged, readonly=readonly)
        return methods
