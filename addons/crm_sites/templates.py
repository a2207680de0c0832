# Site templates: a whole site (pages, blocks, a form) in one action.
# The sample content is written in the site's language (Russian or
# English); the user edits it afterwards.
from collections import OrderedDict

TEMPLATES = OrderedDict([
        ('services', "Services Company"),
        ('product', "Product Launch"),
        ('event', "Event"),
        ])


def _l(lang, en, ru):
    return ru if lang == 'ru' else en


def form_values(lang, name):
    "The contact form every template puts on its pages"
    return {
        'name': _l(lang, 'Request from %s', 'Заявка с сайта %s') % name,
        'submit_label': _l(lang, 'Send', 'Отправить'),
        'success_message': _l(lang,
            'Thank you! We will call you back shortly.',
            'Спасибо! Мы скоро вам перезвоним.'),
        'consent': True,
        'consent_text': _l(lang,
            'I agree to the processing of my personal data.',
            'Я согласен на обработку персональных данных.'),
        'form_fields': [
            {'key': 'name', 'label': _l(lang, 'Your name', 'Ваше имя'),
                'type': 'name', 'required': True, 'mapping': 'name',
                'max_length': 200, 'sequence': 1},
            {'key': 'phone', 'label': _l(lang, 'Phone', 'Телефон'),
                'type': 'phone', 'required': True, 'mapping': 'phone',
                'max_length': 40, 'sequence': 2},
            {'key': 'email', 'label': 'E-mail', 'type': 'email',
                'mapping': 'email', 'max_length': 200, 'sequence': 3},
            {'key': 'message', 'label': _l(lang, 'Message', 'Сообщение'),
                'type': 'text', 'mapping': 'message', 'max_length': 4000,
                'sequence': 4},
            ],
        }


def _header(lang, name, links):
    return {'type': 'header', 'heading': name,
        'items': [{'title': t, 'link_url': u} for t, u in links]}


def _footer(lang, name):
    return {'type': 'footer', 'heading': name, 'style_theme': 'dark',
        'body': '© %s' % name,
        'items': [{'title': _l(lang, 'Privacy policy',
                        'Политика конфиденциальности'),
                    'link_url': 'privacy'}]}


def _form(lang):
    return {'type': 'form', 'anchor': 'request', 'style_theme': 'accent',
        'heading': _l(lang, 'Leave a request', 'Оставьте заявку'),
        'subheading': _l(lang, 'We answer within an hour.',
            'Ответим в течение часа.'),
        'form': True}


def _privacy(lang, name):
    return {'slug': 'privacy',
        'title': _l(lang, 'Privacy policy', 'Политика конфиденциальности'),
        'blocks': [
            _header(lang, name, [(_l(lang, 'Home', 'Главная'), './')]),
            {'type': 'text', 'heading': _l(lang, 'Privacy policy',
                    'Политика конфиденциальности'),
                'body': _l(lang,
                    '<p>We process the personal data you send us only to '
                    'answer your request.</p>',
                    '<p>Мы обрабатываем персональные данные, которые вы '
                    'отправляете, только чтобы ответить на ваш запрос.</p>')},
            _footer(lang, name),
            ]}


def services(lang, name):
    nav = [(_l(lang, 'Services', 'Услуги'), '#services'),
        (_l(lang, 'Prices', 'Цены'), '#prices'),
        (_l(lang, 'Contacts', 'Контакты'), '#request')]
    return [{'slug': 'index', 'title': name,
            'seo_description': _l(lang, '%s: services for business',
                '%s: услуги для бизнеса') % name,
            'blocks': [
                _header(lang, name, nav),
                {'type': 'hero', 'heading': name, 'style_align': 'center',
                    'style_spacing': 'wide',
                    'subheading': _l(lang, 'Services you can rely on',
                        'Услуги, на которые можно положиться'),
                    'link_label': _l(lang, 'Get a quote', 'Рассчитать'),
                    'link_url': '#request'},
                {'type': 'features', 'anchor': 'services',
                    'heading': _l(lang, 'What we do', 'Что мы делаем'),
                    'items': [
                        {'title': _l(lang, 'Consulting', 'Консалтинг'),
                            'text': _l(lang, 'We study your business.',
                                'Изучаем ваш бизнес.')},
                        {'title': _l(lang, 'Implementation', 'Внедрение'),
                            'text': _l(lang, 'We do the work.',
                                'Делаем работу.')},
                        {'title': _l(lang, 'Support', 'Поддержка'),
                            'text': _l(lang, 'We stay with you.',
                                'Остаёмся с вами.')},
                        ]},
                {'type': 'pricing', 'anchor': 'prices',
                    'heading': _l(lang, 'Prices', 'Цены'),
                    'items': [
                        {'title': _l(lang, 'Basic', 'Базовый'),
                            'price': '10 000 ₽'},
                        {'title': _l(lang, 'Business', 'Бизнес'),
                            'price': '30 000 ₽'},
                        ]},
                {'type': 'testimonials',
                    'heading': _l(lang, 'Clients say', 'Отзывы'),
                    'items': [{'title': 'Anna', 'text': _l(lang,
                                'Fast and clear.', 'Быстро и понятно.')}]},
                {'type': 'team', 'heading': _l(lang, 'Team', 'Команда'),
                    'items': [{'title': 'Ivan Petrov',
                            'subtitle': _l(lang, 'Director', 'Директор')}]},
                {'type': 'faq', 'heading': _l(lang, 'Questions', 'Вопросы'),
                    'items': [{'title': _l(lang, 'How long does it take?',
                                'Сколько это займёт?'),
                            'text': _l(lang, 'Usually two weeks.',
                                'Обычно две недели.')}]},
                _form(lang),
                {'type': 'contacts',
                    'heading': _l(lang, 'Contacts', 'Контакты'),
                    'items': [{'title': _l(lang, 'Phone', 'Телефон'),
                            'text': '+7 495 000-00-00',
                            'link_url': 'tel:+74950000000'}]},
                _footer(lang, name),
                ]},
        _privacy(lang, name)]


def product(lang, name):
    nav = [(_l(lang, 'Features', 'Возможности'), '#features'),
        (_l(lang, 'Order', 'Заказать'), '#request')]
    return [{'slug': 'index', 'title': name,
            'seo_description': _l(lang, 'Meet %s', 'Встречайте %s') % name,
            'blocks': [
                _header(lang, name, nav),
                {'type': 'hero', 'heading': name, 'style_theme': 'dark',
                    'style_align': 'center', 'style_spacing': 'wide',
                    'subheading': _l(lang, 'Available now',
                        'Уже в продаже'),
                    'link_label': _l(lang, 'Pre-order', 'Предзаказ'),
                    'link_url': '#request'},
                {'type': 'features', 'anchor': 'features',
                    'heading': _l(lang, 'Why it', 'Почему он'),
                    'items': [
                        {'title': _l(lang, 'Simple', 'Просто')},
                        {'title': _l(lang, 'Fast', 'Быстро')},
                        {'title': _l(lang, 'Reliable', 'Надёжно')},
                        ]},
                {'type': 'video', 'heading': _l(lang, 'See it in action',
                        'Посмотрите в деле'),
                    'video_url':
                        'https://www.youtube.com/watch?v=aqz-KE-bpKQ'},
                {'type': 'pricing', 'heading': _l(lang, 'Price', 'Цена'),
                    'items': [{'title': name, 'price': '4 990 ₽'}]},
                {'type': 'cta', 'style_theme': 'accent',
                    'style_align': 'center',
                    'heading': _l(lang, 'Be the first', 'Будьте первым'),
                    'link_label': _l(lang, 'Order', 'Заказать'),
                    'link_url': '#request'},
                _form(lang),
                _footer(lang, name),
                ]},
        _privacy(lang, name)]


def event(lang, name):
    nav = [(_l(lang, 'Programme', 'Программа'), '#programme'),
        (_l(lang, 'Register', 'Регистрация'), '#request')]
    return [{'slug': 'index', 'title': name,
            'seo_description': _l(lang, '%s: programme and registration',
                '%s: программа и регистрация') % name,
            'blocks': [
                _header(lang, name, nav),
                {'type': 'hero', 'heading': name, 'style_align': 'center',
                    'style_spacing': 'wide',
                    'subheading': _l(lang, 'One day that changes the year',
                        'Один день, который меняет год'),
                    'link_label': _l(lang, 'Register', 'Зарегистрироваться'),
                    'link_url': '#request'},
                {'type': 'text', 'anchor': 'programme',
                    'heading': _l(lang, 'Programme', 'Программа'),
                    'body': _l(lang,
                        '<ul><li>10:00 Opening</li><li>12:00 Talks</li>'
                        '</ul>',
                        '<ul><li>10:00 Открытие</li><li>12:00 Доклады</li>'
                        '</ul>')},
                {'type': 'team', 'heading': _l(lang, 'Speakers', 'Спикеры'),
                    'items': [{'title': 'Maria Ivanova'}]},
                {'type': 'gallery',
                    'heading': _l(lang, 'Last year', 'В прошлом году'),
                    'items': [{'title': _l(lang, 'Hall', 'Зал'),
                            'image_url': '../_static/placeholder.svg'}]},
                _form(lang),
                {'type': 'contacts', 'heading': _l(lang, 'Venue', 'Место'),
                    'items': [{'title': _l(lang, 'Address', 'Адрес'),
                            'text': _l(lang, 'Moscow, Main street 1',
                                'Москва, Главная улица, 1')}]},
                _footer(lang, name),
                ]},
        _privacy(lang, name)]


BUILDERS = {'services': services, 'product': product, 'event': event}


def pages_of(template, lang, name):
    return BUILDERS[template](lang, name)
