# Record rules of the open lines: an operator sees the conversations (and
# their messages) of the lines they are an operator of, and those handed
# to them; CRM managers and administrators see all (conversation.xml).
from trytond.pool import PoolMeta

from trytond.modules.crm_portal.access import current_employee

MODELS = {'crm.openline.conversation', 'crm.openline.message'}


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name in MODELS:
            employee = current_employee()
            context['openline_employee'] = (
                employee if employee is not None else -1)
        return context

    @classmethod
    def _crm_keyed_models(cls):
        return super()._crm_keyed_models() | MODELS
