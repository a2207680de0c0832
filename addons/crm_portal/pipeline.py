# Deal pipelines with ordered stages, lead statuses and inquiry sources.
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction

STAGE_KINDS = [
    ('in_progress', "In Progress"),
    ('won', "Won"),
    ('lost', "Lost"),
    ]


class Pipeline(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.pipeline'

    name = fields.Char("Name", required=True, translate=True)
    company = fields.Many2One('company.company', "Company", required=True)
    is_default = fields.Boolean(
        "Default", help="New deals go to this pipeline when none is given.")
    stages = fields.One2Many('crm.pipeline.stage', 'pipeline', "Stages")

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def validate_fields(cls, pipelines, field_names):
        super().validate_fields(pipelines, field_names)
        if field_names and not (field_names & {'is_default', 'company'}):
            return
        for pipeline in pipelines:
            if pipeline.is_default and cls.search([
                        ('company', '=', pipeline.company.id),
                        ('is_default', '=', True),
                        ('id', '!=', pipeline.id),
                        ], limit=1):
                raise ValidationError(gettext(
                        'crm_portal.msg_pipeline_default_unique',
                        company=pipeline.company.rec_name))

    @classmethod
    def get_default(cls, company=None, create=False):
        """Return the default pipeline of company, else its first one.

        With create, a company without pipeline gets the standard one."""
        if company is None:
            company = Transaction().context.get('company')
        if company is None:
            return None
        pipelines = cls.search([('company', '=', company)],
            order=[('is_default', 'DESC NULLS LAST'), ('sequence', 'ASC'),
                ('id', 'ASC')], limit=1)
        if pipelines:
            return pipelines[0]
        if create:
            return cls.create_standard(company)

    @classmethod
    def create_standard(cls, company, name=None):
        "Create the standard sales pipeline for company"
        stages = [
            ('NEW', 'msg_stage_new', 'in_progress', 0.1, '#39a8ef'),
            ('PREPARATION', 'msg_stage_preparation', 'in_progress', 0.3,
                '#2fc6f6'),
            ('PREPAYMENT_INVOICE', 'msg_stage_invoice', 'in_progress', 0.6,
                '#55d0e0'),
            ('EXECUTING', 'msg_stage_executing', 'in_progress', 0.8,
                '#47e4c2'),
            ('WON', 'msg_stage_won', 'won', 1, '#7bd500'),
            ('LOSE', 'msg_stage_lost', 'lost', 0, '#ff5752'),
            ]
        pipeline, = cls.create([{
                    'name': name or gettext('crm_portal.msg_pipeline_sales'),
                    'company': company,
                    'is_default': not cls.search(
                        [('company', '=', company), ('is_default', '=', True)],
                        limit=1),
                    'stages': [('create', [{
                                    'code': code,
                                    'name': gettext('crm_portal.' + msg),
                                    'kind': kind,
                                    'probability': probability,
                                    'color': color,
                                    'sequence': i,
                                    } for i, (code, msg, kind, probability,
                                    color) in enumerate(stages)])],
                    }])
        return pipeline

    def first_stage(self, kind='in_progress'):
        for stage in self.stages:
            if stage.kind == kind:
                return stage


class Stage(sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.pipeline.stage'

    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char(
        "Code", help="Stable identifier used by the REST API.")
    color = fields.Char("Colour", help="An HTML colour such as #2e86de.")
    probability = fields.Float(
        "Probability", digits=(1, 4), required=True,
        domain=[('probability', '>=', 0), ('probability', '<=', 1)],
        help="Chance of winning a deal in this stage, between 0 and 1.")
    kind = fields.Selection(STAGE_KINDS, "Kind", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('pipeline')

    @staticmethod
    def default_kind():
        return 'in_progress'

    @staticmethod
    def default_probability():
        return 0.1

    @fields.depends('kind', 'probability')
    def on_change_kind(self):
        if self.kind == 'won':
            self.probability = 1
        elif self.kind == 'lost':
            self.probability = 0

    @classmethod
    def check_modification(cls, mode, stages, values=None, external=False):
        super().check_modification(
            mode, stages, values=values, external=external)
        if mode == 'delete':
            Opportunity = Pool().get('sale.opportunity')
            for stage in stages:
                count = Opportunity.search_count([
                        ('stage', '=', stage.id),
                        ])
                if count:
                    raise AccessError(gettext(
                            'crm_portal.msg_stage_delete_deals',
                            stage=stage.rec_name, count=count))

    def get_rec_name(self, name):
        return self.name


class LeadStatus(sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.lead.status'

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True,
        help="Stable identifier used by the REST API (STATUS_ID).")
    kind = fields.Selection([
            ('open', "Open"),
            ('converted', "Converted"),
            ('junk', "Junk"),
            ], "Kind", required=True)
    color = fields.Char("Colour")

    @staticmethod
    def default_kind():
        return 'open'

    @classmethod
    def get_first(cls, kind='open'):
        statuses = cls.search([('kind', '=', kind)], limit=1)
        return statuses[0] if statuses else None


class Source(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.source'

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True,
        help="Stable identifier used by channels and the REST API "
        "(SOURCE_ID).")

    @classmethod
    def get_by_code(cls, code):
        if not code:
            return None
        sources = cls.search([('code', '=', code)], limit=1)
        return sources[0] if sources else None
