"""The demo agency's brands, people and the templates its texts are made from.

Everything here was written for the demo (nothing is copied from the research corpora). Texts
are templates with ``{slots}``: ``demo_text.fill`` draws each slot from the brand's lists or
from ``COMMON_SLOTS``, and ``demo_text.roughen`` adds the typos, missing accents and emojis of
real social media writing. The brands are fictional.
"""

from __future__ import annotations

# --- People -----------------------------------------------------------------------------

FIRST_NAMES = {
    "es-ES": ["Lucía", "Martina", "Sofía", "Paula", "Carmen", "Laura", "Marta", "Elena", "Nerea", "Irene",
              "Alba", "Rocío", "Inés", "Ainhoa", "Andrea", "Cristina", "Pilar", "Noelia", "Pablo", "Javier",
              "Álvaro", "Hugo", "Daniel", "Adrián", "Sergio", "Iker", "Jorge", "Raúl", "Manuel", "Pepe",
              "Miguel", "Jon", "Óscar", "Rubén", "Nacho", "Quique", "Mireia", "Jordi", "Xabi", "Begoña"],
    "es-MX": ["Ximena", "Fernanda", "Valeria", "Guadalupe", "Itzel", "Mariana", "Renata", "Daniela", "Camila",
              "Regina", "Brenda", "Karla", "Paty", "Lupita", "Citlali", "Diego", "Emiliano", "Santiago",
              "Luis Ángel", "José Luis", "Juan Pablo", "Rodrigo", "Alejandro", "Carlos", "Arturo", "Mauricio",
              "Toño", "Memo", "Chuy", "Iván", "Héctor", "Gerardo", "Rafa", "Beto"],
    "en-GB": ["Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Freya", "Chloe", "Poppy", "Harry",
              "George", "Oliver", "Jack", "Charlie", "Thomas", "James", "William", "Callum", "Rhys", "Priya",
              "Aisha", "Siobhan", "Niamh", "Hamish", "Tom", "Beth", "Zara", "Imran", "Ellie", "Fiona", "Ravi"],
    "en-US": ["Emma", "Madison", "Ashley", "Jessica", "Megan", "Taylor", "Kayla", "Tyler", "Brandon", "Kevin",
              "Josh", "Ryan", "Mike", "Danielle", "Marcus", "Jasmine", "Andre", "Kim", "Steve", "Lauren"],
}

LAST_NAMES = {
    "es-ES": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
              "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Álvarez", "Romero", "Navarro", "Torres",
              "Domínguez", "Gil", "Vázquez", "Serrano", "Ramos", "Blanco", "Molina", "Ortega", "Delgado",
              "Castro", "Iglesias", "Etxeberria", "Puig", "Ferrer", "Vidal", "Cano", "Prieto"],
    "es-MX": ["Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez", "Ramírez",
              "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Reyes", "Jiménez", "Torres", "Díaz", "Gutiérrez",
              "Ruiz", "Mendoza", "Aguilar", "Ortiz", "Castillo", "Chávez", "Villanueva", "Zamora", "Espinoza",
              "Salinas", "Cervantes"],
    "en-GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
              "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
              "Clarke", "Khan", "Hughes", "Edwards", "O'Brien", "Murphy", "Campbell", "Kelly", "MacLeod", "Ahmed"],
    "en-US": ["Miller", "Davis", "Garcia", "Anderson", "Thomas", "Moore", "Martin", "Lee", "Harris", "Clark",
              "Lewis", "Young", "King", "Scott", "Nguyen", "Baker", "Nelson", "Carter", "Mitchell", "Perez"],
}

HANDLE_WORDS = {
    "es-ES": ["cafeadicta", "viajera", "runner", "foodie", "madrileña", "lectora", "gatuna", "mami", "opositora",
              "teletrabajo", "brunch", "sevillana", "bilbaino", "valenciana", "treintañera"],
    "es-MX": ["contadora", "cdmx", "chilanga", "emprendedor", "tapatio", "regio", "pyme", "facturas", "nerd",
              "dev", "mx", "oaxaqueña", "puebla"],
    "en-GB": ["bookworm", "reads", "bibliophile", "pagesandtea", "londoner", "booknerd", "shelfie", "tbr",
              "crimefan", "poetrylover", "mum", "teacher", "library"],
    "en-US": ["reads", "dev", "founder", "ops", "biz", "nyc", "atx", "cpa", "growth"],
}

SPAM_HANDLES = ["followers_boost_24", "crypto.mentor.ana", "promo_estrellas", "gana_dinero_ya", "insta.growth.pro",
                "fx_trading_queen", "brand_ambassador_hub", "free.giftcards.uk", "ropa_outlet_99", "seo_top_rank",
                "sugar_daddy_realx", "bitcoin.recovery.help", "promo.shoutout.page", "likes_reales_mx"]

TROLL_HANDLES = ["el_critico_88", "anon93847", "verdad_incomoda", "notabot_1977", "grumpy_reader",
                 "ya_nadie_lee", "realtalk_uk", "xXdestroyerXx", "el_que_avisa", "nopal_hater", "justsayin_99",
                 "opinionesincomodas"]

# The agency's own people. The demo login (``demo``) owns every brand; these hold the other roles.
# (username, first name, last name, language, time zone, {brand key: role})
STAFF = [
    ("lucia", "Lucía", "Navarro", "es", "Europe/Madrid",
     {"cafe": "manager", "soft": "manager", "books": "manager"}),
    ("diego", "Diego", "Ramírez", "es", "America/Mexico_City",
     {"cafe": "community_manager", "soft": "community_manager"}),
    ("emma", "Emma", "Clarke", "en", "Europe/London",
     {"books": "community_manager", "cafe": "analyst"}),
    ("marta", "Marta", "Gil", "es", "Europe/Madrid",
     {"soft": "analyst", "books": "analyst"}),
    ("carmen", "Carmen", "Ortega", "es", "Europe/Madrid", {"cafe": "client_reviewer"}),
    ("arturo", "Arturo", "Mendoza", "es", "America/Mexico_City", {"soft": "client_reviewer"}),
    ("oliver", "Oliver", "Hughes", "en", "Europe/London", {"books": "client_reviewer"}),
]

# --- Words shared by every brand --------------------------------------------------------

COMMON_SLOTS = {
    "es": {
        "e_pos": ["😍", "🙌", "👏", "😊", "🥰", "💯", "✨", "🔥", "👌", "😋", "❤️", "💚"],
        "e_neg": ["😡", "😤", "🙄", "😒", "👎", "😠", "🤬", "😞", "😑"],
        "e_laugh": ["😂", "🤣", "jajaja", "jaja", "JAJAJA", "xD", "😅"],
        "e_sad": ["😢", "😕", "😔", "🥲", "😩"],
        "e_think": ["🤔", "🧐", "👀"],
        "spam_link": ["bit.ly/3xQ9kP2", "tinyurl.com/gana-ya", "t.me/+Kx81mm", "cutt.ly/wQe7Z", "linktr.ee/promo_ya"],
        "weekday": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
    },
    "en": {
        "e_pos": ["😍", "🙌", "👏", "😊", "🥰", "💯", "✨", "🔥", "👌", "❤️", "💛", "🥹"],
        "e_neg": ["😡", "😤", "🙄", "😒", "👎", "😠", "😞", "😑"],
        "e_laugh": ["😂", "🤣", "haha", "lol", "LOL", "😅"],
        "e_sad": ["😢", "😕", "😔", "🥲", "😩"],
        "e_think": ["🤔", "🧐", "👀"],
        "spam_link": ["bit.ly/3xQ9kP2", "tinyurl.com/earn-now", "t.me/+Kx81mm", "cutt.ly/wQe7Z", "linktr.ee/promo_now"],
        "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    },
}

# Intents the demo writes, with their share of inbound conversations. "troll" is stored as
# intent "other" with a high toxicity score (that is what the triage models produce).
INTENT_MIX = [("praise", 30), ("question", 24), ("complaint", 14), ("request", 8), ("spam", 7),
              ("troll", 5), ("other", 12)]

# Spam and trolls read the same whatever the brand.
SPAM = {
    "es": [
        "Gana {n}€ al día desde casa 💰💰 info en mi perfil",
        "🔥 Consigue 10K seguidores REALES en 24h 👉 {spam_link}",
        "Hola!! Me encanta tu contenido 😍 ¿colaboramos? Escríbeme al DM para una promo",
        "INVIERTE EN CRIPTO con mi mentor, yo ya gané {n}.000€ 🚀🚀 {spam_link}",
        "Sorteo de iPhone 15!! solo tienes que entrar aquí {spam_link} 🎁",
        "Tu cuenta será suspendida por infringir derechos de autor, verifica aquí: {spam_link}",
        "Vendo seguidores y likes baratísimos, pregunta sin compromiso 📈",
        "Hola guapa, mira mi perfil 😘😘",
        "Gana dinero extra desde tu celular 💸 mándame DM y te explico",
        "Recupera tus criptomonedas perdidas con un experto certificado ✅ {spam_link}",
    ],
    "en": [
        "I made £{n}00 in a week with this one trick 💷 check my bio",
        "Get 5000 followers instantly!!! {spam_link}",
        "Hey, love your feed! 🌟 DM us to be featured on our page",
        "Your page has been flagged for copyright violation. Verify now or lose access: {spam_link}",
        "FREE giftcards for the first 100 people 🎁🎁 {spam_link}",
        "Want more sales? I can grow your account 10x, message me 📈",
        "Crypto recovery expert, I helped me get back my stolen BTC ✅ {spam_link}",
        "hi dear, can we be friends? 🌹",
    ],
}

TROLL = {
    "es": [
        "Vaya basura de sitio, no sé cómo seguís abiertos",
        "Menudos sinvergüenzas, cobrar eso por esto 🤡",
        "Ojalá cerréis, así de claro 🤮",
        "Sois unos inútiles, ni lo más básico sabéis hacer",
        "Qué vergüenza de empresa, dais pena",
        "Nadie os ha preguntado, pesados",
        "Otra empresa que vende humo. Timadores.",
        "Puro relleno y cero contenido, deja de hacer el ridículo",
    ],
    "en": [
        "Absolute clowns 🤡",
        "Nobody asked, mate",
        "What a joke of a company, honestly embarrassing",
        "Overpriced rubbish for people with more money than sense",
        "Hope you go bust tbh",
        "Imagine being this useless 🙄",
        "Scammers, the lot of you",
    ],
}

OTHER = {
    "es": [
        "{friend} mira esto {e_pos}", "{friend} el {weekday} aquí?", "Qué foto más bonita 📸", "Primera!!",
        "{friend} {friend2} plan para el finde", "Jajaja me encanta {e_laugh}", "{e_pos}{e_pos}{e_pos}",
        "Me lo apunto", "Ayer pasé por delante y había cola!", "{friend} te lo dije",
        "Quién más viene de ver la story? {e_laugh}", "Buenos días a todos ☀️",
    ],
    "en": [
        "{friend} look at this {e_pos}", "{friend} we need to go here", "Lovely photo 📸", "First!",
        "{friend} {friend2} weekend plans sorted", "Ha, love this {e_laugh}", "{e_pos}{e_pos}", "Noted 📝",
        "{friend} told you", "Morning all ☀️", "Saw the queue outside yesterday!",
    ],
}

# What customers say after the brand answered, by how it went.
FOLLOW_UPS = {
    "es": {
        "thanks": ["Genial, gracias!!", "Perfecto, mil gracias {e_pos}", "Vale, muchas gracias por contestar tan rápido",
                   "Ok, gracias!", "Graciaaas {e_pos}", "Entendido, gracias por la info", "Sois unos cracks {e_pos}"],
        "still": ["Sigue igual... {e_neg}", "Ya os escribí y nadie me contesta", "Pues sigo esperando, la verdad",
                  "Esto no es una solución {e_neg}", "Ya van {days} días, por favor!!"],
        "solved": ["Ya está solucionado, gracias por la rapidez 🙏", "Resuelto! muchas gracias",
                   "Todo bien ya, gracias por estar pendientes", "Ya me llegó, gracias!!"],
        "details": ["Os mando los datos: pedido #{order}", "Es el pedido {order}, lo hice el {weekday}",
                    "Mi correo es el mismo con el que me registré, número de cliente {order}"],
    },
    "en": {
        "thanks": ["Brilliant, thank you!", "Perfect, thanks so much {e_pos}", "Cheers for the quick reply!",
                   "Ok thanks!", "Thank youuu {e_pos}", "Got it, thanks for the info", "You lot are the best {e_pos}"],
        "still": ["Still the same... {e_neg}", "I emailed and nobody got back to me", "Still waiting tbh",
                  "That's not really a solution {e_neg}", "It's been {days} days now, please!"],
        "solved": ["All sorted now, thanks for being so quick 🙏", "Sorted! thank you", "It arrived, thanks!!",
                   "All good now, appreciate it"],
        "details": ["Here you go: order #{order}", "It's order {order}, placed on {weekday}",
                    "Same email I used to sign up, customer number {order}"],
    },
}

# --- The brands -------------------------------------------------------------------------
# Each brand: settings, knowledge, strategy, accounts, competitors, and its texts.
# Post templates are grouped by pillar; the generator appends the brand's required hashtag.

CAFE = {
    "key": "cafe",
    "name": "Café Candela",
    "timezone": "Europe/Madrid",
    "language": "es",
    "locale": "es-ES",
    "second_locale": "en-GB",
    "second_share": 0.10,
    "country": "ES",
    "countries": ["ES", "ES", "ES", "ES", "PT", "FR", "GB", "IT", "DE"],
    "website": "https://cafecandela.example",
    "tone": ("Cercano y cálido, con humor suave. Tuteamos siempre. Hablamos de café con cariño pero sin "
             "pedantería. Nunca discutimos en público: ante una queja, pedimos perdón y pasamos a DM."),
    "banned_words": ["barato", "chollo", "low cost", "descafeinado de sobre"],
    "required_hashtags": ["#CaféCandela"],
    "signature": "— Equipo Candela ☕",
    "posts_per_week": 5,
    "interaction_weight": 4,
    "knowledge": [
        ("product", "Tarta de queso de la casa", "Horneada cada mañana en nuestro obrador de Vallecas. Lleva lactosa y "
         "huevo; no tenemos versión sin gluten de momento.", "", "", ["tarta", "queso", "alérgenos"]),
        ("product", "Cold brew", "Café de Etiopía infusionado en frío 18 horas. Disponible de mayo a octubre.", "", "",
         ["cold brew", "frío", "verano"]),
        ("product", "Leches vegetales", "Tenemos avena, almendra y soja sin coste extra en todas las cafeterías.", "",
         "", ["avena", "vegana", "lactosa"]),
        ("service", "Tarjeta Candela", "La app de fidelización: un café gratis cada 9. Los puntos caducan a los 12 meses.",
         "Atención al cliente", "hola@cafecandela.example", ["puntos", "app", "tarjeta"]),
        ("service", "Catering para oficinas", "Desayunos y meriendas para grupos desde 10 personas, con 48 h de antelación.",
         "Eventos", "eventos@cafecandela.example", ["catering", "empresa", "eventos"]),
        ("faq", "Horarios", "De lunes a viernes de 7:30 a 21:00; fines de semana de 8:30 a 21:00. En agosto, "
         "Sevilla cierra por las tardes.", "", "", ["horario", "abrís", "cerráis"]),
        ("faq", "Mascotas", "Los perros son bienvenidos en todas las terrazas y en el interior de Malasaña y Ruzafa.",
         "", "", ["perro", "mascota"]),
        ("department", "Cobros duplicados y devoluciones", "Pide el ticket y deriva a Administración; devuelven en 3-5 "
         "días laborables.", "Administración", "admin@cafecandela.example", ["cobro", "devolución", "tarjeta"]),
        ("department", "Trabaja con nosotros", "Candidaturas solo por la web, nunca por DM.", "Personas",
         "empleo@cafecandela.example", ["empleo", "trabajo", "cv"]),
        ("department", "Prensa", "Periodistas: derivar a comunicación.", "Comunicación", "prensa@cafecandela.example",
         ["prensa", "entrevista"]),
    ],
    "pillars": [("Producto y temporada", 35, "#b45309"), ("Comunidad y baristas", 25, "#2563eb"),
                ("Origen y sostenibilidad", 20, "#15803d"), ("Promociones", 20, "#db2777")],
    "objectives": [
        ("Crecer la comunidad en Instagram", [("follower_growth", 12), ("engagement_rate_reach", "4.5"),
                                              ("response_time", 2), ("response_rate", 90)]),
        ("Llevar tráfico a la app Tarjeta Candela", [("web_visits", 18000), ("ctr", "1.2"), ("share_of_voice", 30),
                                                     ("roi", 150)]),
    ],
    "campaigns": [
        # name, utm, month, day, days, cost, value, pillar, templates
        ("Verano Cold Brew", "verano-cold-brew", 6, 15, 75, 2400, 6100, "Promociones", [
            "Vuelve el {cold} ❄️ 18 horas en frío para que tú no tengas que esperar ni una. Ya en todas las Candela.",
            "Plan de verano: terraza, {cold} y nada de prisa {e_pos}",
            "2x1 en {cold} los jueves de julio en {place}. Trae a quien quieras ☀️",
        ]),
        ("Día Internacional del Café", "dia-del-cafe", 10, 1, 3, 600, 2200, "Comunidad y baristas", [
            "Feliz Día del Café ☕ Hoy el primer café lo pagamos nosotros en {place}. Solo tienes que decir «candela».",
            "Sorteamos un año de café 🎁 Para participar: sigue la cuenta y etiqueta a quien te invitaría a uno.",
        ]),
        ("Navidad en Candela", "navidad-candela", 12, 1, 37, 3200, 9800, "Promociones", [
            "Llega el roscón de {place} 👑 Encárgalo en barra o en la app y recógelo sin colas.",
            "El chocolate con churros ha vuelto y trae amigos: {product} y turrón de la casa 🎄",
            "¿Regalo de última hora? La tarjeta regalo Candela se envía por e-mail en un minuto 🎁",
        ]),
    ],
    "accounts": [
        # network, handle, display name, base url, followers at start, growth over the year
        ("instagram", "cafecandela", "Café Candela", "", 18400, 0.32),
        ("facebook", "Café Candela", "Café Candela", "", 9200, 0.06),
        ("x", "cafecandela", "Café Candela ☕", "", 6100, 0.08),
        ("mastodon", "@cafecandela@masto.es", "Café Candela", "https://masto.es", 820, 0.45),
        ("telegram", "cafecandela_ofertas", "Candela · Ofertas", "", 2300, 0.25),
    ],
    "competitors": [
        ("Molienda Express", "https://molienda.example", [("instagram", "moliendaexpress", 25500),
                                                          ("x", "moliendaexpress", 7300)]),
        ("Café del Barrio", "https://cafedelbarrio.example", [("instagram", "cafedelbarrio", 11200),
                                                              ("facebook", "Café del Barrio", 6400)]),
    ],
    "links": ["https://cafecandela.example/carta", "https://cafecandela.example/app",
              "https://cafecandela.example/cafeterias", "https://cafecandela.example/catering",
              "https://cafecandela.example/blog/origen-etiopia", "https://cafecandela.example/tienda/cafe-en-grano"],
    "slots": {
        # Drinks are all masculine ("el cortado"); foods carry their own article where a
        # template needs one, so no sentence says "el tarta".
        "drink": ["flat white", "cortado", "café con leche", "cappuccino", "matcha latte", "cold brew", "chai latte",
                  "café bombón", "americano", "cappuccino de avena"],
        "food": ["tostada con tomate", "tarta de queso", "croissant de mantequilla", "bizcocho de limón",
                 "chocolate con churros", "bocadillo de tortilla", "tarta de zanahoria", "napolitana de chocolate"],
        "food_art": ["la tostada con tomate", "la tarta de queso", "el croissant de mantequilla", "el bizcocho de limón",
                     "el bocadillo de tortilla", "la tarta de zanahoria", "la napolitana de chocolate"],
        "product": ["flat white", "cortado", "café con leche", "tostada con tomate", "tarta de queso", "cold brew",
                    "croissant de mantequilla", "bizcocho de limón", "chocolate con churros", "matcha latte",
                    "bocadillo de tortilla", "cappuccino de avena", "tarta de zanahoria"],
        "cold": ["cold brew", "cold brew con tónica", "café con hielo"],
        "place": ["Malasaña", "Chamberí", "Lavapiés", "Ruzafa", "Triana", "Gràcia", "Indautxu", "la estación de Atocha",
                  "Salamanca", "el Carmen"],
        "city": ["Madrid", "Valencia", "Sevilla", "Barcelona", "Bilbao"],
        "city_wish": ["Zaragoza", "Málaga", "Murcia", "Valladolid", "Gijón", "Pamplona", "Granada"],
        "friend": ["@laura_mtz", "@pablo.rg", "@nerea_bilbo", "@javi_cafetero", "@martita.gil", "@irene_sv",
                   "@adri.lpz", "@cris_viajera"],
        "origin": ["Etiopía", "Colombia", "Guatemala", "Brasil", "Kenia", "Perú"],
        "barista": ["Rocío", "Hugo", "Mireia", "Óscar", "Nacho", "Alba"],
        "dept": ["Atención al cliente", "Administración", "Eventos"],
        "contact": ["hola@cafecandela.example", "admin@cafecandela.example"],
        "agent": ["Lucía", "Diego"],
        "n": ["2", "3", "4", "5", "6", "8", "10", "12", "15"],
        "mins": ["15", "20", "25", "30", "40"],
        "days": ["3", "4", "5", "7", "10"],
        "order": ["4821", "5190", "3377", "7012", "6658", "2294"],
    },
    "posts": {
        "Producto y temporada": [
            "Lunes de {drink} ☕ ¿Con qué empiezas tú la semana?",
            "Nuevo en carta: {product}. Pruébalo esta semana en {place} y cuéntanos {e_pos}",
            "La tarta de queso sale del horno a las 8:00. A las 11:00 ya no queda. Tú verás 😏",
            "Otoño es {product} y una mesa junto a la ventana 🍂",
            "¿Equipo {product} o equipo {product2}? Se aceptan debates (civilizados) 👇",
            "Desayuno completo: {drink} + {food} por 4,90 € hasta las 12:00 en todas las Candela.",
            "Hoy en {place} acaba de salir del horno {food_art}. Solo decimos eso. {e_pos}",
            "Tu {drink} ahora también con leche de avena, almendra o soja, sin coste extra 🌱",
        ],
        "Comunidad y baristas": [
            "Os presentamos a {barista}, barista en {place} desde hace 4 años. Su especialidad: el {drink} perfecto 💛",
            "Gracias por las fotos que nos mandáis cada día 📸 Esta es de una clienta de {place}.",
            "¿Sabías que nuestras baristas hacen una cata cada lunes? Así elegimos el café de la semana ☕",
            "Cumplimos 9 años en {city}. Gracias por cada café, cada charla y cada «lo de siempre» 🎂",
            "Mesa compartida, enchufes y wifi: {place} es tu oficina los martes 💻",
            "El equipo de {place} os manda un saludo (y un {drink}) {e_pos}",
        ],
        "Origen y sostenibilidad": [
            "Nuestro café de {origin} viene de una cooperativa de 120 familias. Pagamos un 30 % sobre el precio justo 🌍",
            "Vasos compostables y 10 céntimos de descuento si traes tu taza ♻️",
            "De la finca a tu taza: así tostamos el café de {origin} en nuestro obrador 🔥",
            "Los posos de café de {place} acaban como abono en huertos urbanos de {city} 🌱",
            "Este mes, el café de origen es {origin}: notas de frutos rojos y chocolate.",
        ],
        "Promociones": [
            "Con la app Tarjeta Candela, el décimo café es nuestro ☕ Descárgala aquí: {link}",
            "Solo este fin de semana: {drink} + {food} a precio de uno en {place} 🎉",
            "Happy hour de 16:00 a 18:00: cafés a 1,50 € en {city} ⏰",
            "¿Reunión en la oficina? Pide nuestro catering con 48 h de antelación: {link}",
            "Café en grano para casa, molido a tu gusto: {link}",
        ],
    },
    "texts": {
        "es": {
            "praise": [
                "El {drink} de {place} es otro nivel {e_pos}",
                "Hoy he probado {food_art} y madre mía... vuelvo mañana seguro {e_pos}",
                "Gracias al equipo de {place} por tratarnos tan bien, sois un amor {e_pos}",
                "Mejor {drink} de {city}, y no lo digo por decir",
                "Qué rico todo!! el {drink} con leche de avena 👌",
                "Me encanta que tengáis {product} otra vez, lo echaba mucho de menos",
                "Desayuno de domingo en {place}: {product} y {product2}. Felicidad {e_pos}",
                "La barista de {place} se acordó de mi pedido, detalle que enamora {e_pos}",
                "Vuestro {drink} me salva las mañanas de oficina ☕",
                "Ayer en {place} con mi madre, todo buenísimo y el trato de diez",
                "Por fin un sitio en {city} donde el café sabe a café {e_pos}",
                "Mi rincón favorito para estudiar es vuestra terraza de {place} 📚",
            ],
            "question": [
                ("¿A qué hora abrís el domingo en {place}?",
                 "¡Hola! Los fines de semana abrimos de 8:30 a 21:00 en todas las Candela ☕"),
                ("Hola! ¿La tarta de queso lleva lactosa? Soy intolerante",
                 "¡Hola! Sí, lleva lactosa y huevo. Si quieres, pregunta en barra por los dulces sin lactosa del día 💛"),
                ("¿Tenéis opciones sin gluten en {place}?",
                 "Tenemos bizcocho sin gluten cada día, pero se elabora en un obrador con trazas. Te lo contamos en barra 🙏"),
                ("Se puede reservar mesa para un grupo de {n} personas?",
                 "¡Claro! Para grupos de más de 6 escríbenos a eventos@cafecandela.example y os guardamos sitio 😊"),
                ("¿Los puntos de la Tarjeta Candela caducan?",
                 "Caducan a los 12 meses de conseguirlos. En la app ves la fecha de cada uno 📱"),
                ("¿Hacéis catering para oficinas? Somos unos {n}",
                 "¡Sí! Desde 10 personas y con 48 h de antelación. Escríbenos a eventos@cafecandela.example ☕"),
                ("q horario tiene el de {place} en agosto??",
                 "¡Hola! En agosto mantenemos el horario habitual salvo Sevilla, que cierra por las tardes ☀️"),
                ("¿Se admiten perros en la terraza de {place}? 🐶",
                 "¡Por supuesto! En todas las terrazas, y dentro en Malasaña y Ruzafa 🐾"),
                ("¿Vendéis el café en grano para llevar a casa?",
                 "¡Sí! En todas las cafeterías y en la tienda online, en grano o molido a tu gusto ☕"),
                ("Tenéis leche de avena sin suplemento?",
                 "Avena, almendra y soja sin coste extra en todas las Candela 🌱"),
                ("Dónde está la Candela más cercana a {place}?",
                 "En la web tienes el mapa con todas las cafeterías: cafecandela.example/cafeterias 📍"),
            ],
            "complaint": [
                "Llevo {mins} minutos esperando en {place} y nadie nos atiende. Fatal.",
                "El {drink} de hoy estaba frío y me lo cobraron igual {e_neg}",
                "La app de la Tarjeta Candela no me suma los puntos desde hace semanas",
                "Pedí para llevar y faltaba {food_art}. No es la primera vez.",
                "Muy decepcionada con {place}, la mesa sucia y el baño sin papel",
                "Han subido el precio del {drink} otra vez?? 30 céntimos más...",
                "Me cobraron dos veces con tarjeta en {place}, ¿cómo lo soluciono?",
                "El camarero de {place} fue bastante borde esta mañana, una pena {e_sad}",
                "Encontré un pelo en {food_art}. Asqueroso {e_neg}",
                "Cerrasteis {place} antes de hora y sin avisar, vine para nada",
                "La música tan alta en {place} que no se puede hablar",
            ],
            "request": [
                "Porfa traed de vuelta {food_art} de temporada!!",
                "Deberíais abrir uno en {city_wish}, lo petaríais",
                "¿Podéis poner más enchufes en {place}? Trabajamos muchos ahí",
                "Me podéis mandar factura de mi consumo de ayer en {place}?",
                "Estaría genial que la app dejara pedir para recoger",
                "Poned más opciones veganas en la carta, porfa 🌱",
            ],
            "incident": [],
        },
        "en": {
            "praise": [
                "Best flat white I've had in {city}, hands down ☕",
                "Lovely little café in {place}, staff were so kind {e_pos}",
                "The {drink} at Candela is unreal. Came back twice in one trip",
                "Found this gem in {city} on holiday, wish we had one at home {e_pos}",
            ],
            "question": [
                ("Do you have oat milk at the {place} shop?",
                 "Hi! Yes, oat, almond and soy at no extra cost in every Candela 🌱"),
                ("Are you open on Sunday mornings?", "Hi! Weekends we're open 8:30 to 21:00 ☕ See you soon!"),
                ("Is there wifi and plugs in {place}? Need somewhere to work",
                 "Yes to both! Shared tables and plugs in every Candela 💻"),
            ],
            "complaint": [
                "Waited {mins} minutes and my order was wrong. Not great.",
                "Got charged twice at {place}, how do I get a refund?",
                "Card machine didn't work and nobody told us before we ordered {e_neg}",
            ],
            "request": ["Please add an English menu at {place}!", "Would love decaf oat options please"],
            "incident": [],
        },
    },
    "replies": {
        "es": {
            "praise": ["¡Gracias, {name}! Nos alegras el día {e_pos}", "¡Qué bien que te gustara! Te esperamos pronto en {place} ☕",
                       "Se lo contamos al equipo de {place}, que les va a hacer mucha ilusión 💛",
                       "¡Muchas gracias! Así da gusto 😊"],
            "complaint": ["Lo sentimos mucho, {name}. Escríbenos por DM con el ticket y lo revisamos con el equipo de {place} 🙏",
                          "Perdona las molestias. Lo pasamos a {dept} ({contact}) y te contestan hoy mismo.",
                          "Uf, esto no debería pasar. Te escribimos por privado para arreglarlo cuanto antes.",
                          "Gracias por avisarnos, {name}. Ya lo hemos trasladado al equipo de {place}."],
            "request": ["¡Tomamos nota! Se lo pasamos al equipo 😊", "¡Qué buena idea! La apuntamos para la próxima carta 📝",
                        "Nos lo apuntamos, {name}. ¡Gracias por ayudarnos a mejorar!"],
            "other": ["😊", "¡Os esperamos! ☕", "💛"],
            "troll": ["Sentimos que pienses así. Si quieres contarnos qué ha pasado, aquí estamos."],
            "resolve": ["Listo, {name}: la devolución sale hoy y la verás en 3-5 días. Perdona de nuevo 🙏",
                        "Ya está corregido en la app, tus puntos deberían aparecer en un rato.",
                        "Hemos hablado con el equipo de {place} y te invitamos al próximo café ☕"],
            "ask_details": ["¿Nos pasas por aquí el número de ticket o pedido, {name}?", "Escríbenos por DM el número de pedido y lo miramos."],
        },
        "en": {
            "praise": ["Thank you, {name}! Made our day {e_pos}", "So glad you liked it! Come back soon ☕"],
            "complaint": ["So sorry about that, {name}. Could you DM us your receipt? We'll sort it out 🙏",
                          "Apologies! We've passed this on to the {place} team."],
            "request": ["Great idea, noted! 📝", "Thanks {name}, we'll pass it on to the team"],
            "other": ["😊", "See you soon! ☕"],
            "troll": ["Sorry you feel that way. If something went wrong, tell us and we'll look into it."],
            "resolve": ["All done, {name}: the refund goes out today. Sorry again 🙏"],
            "ask_details": ["Could you send us your order or receipt number, {name}?"],
        },
    },
}

SOFT = {
    "key": "soft",
    "name": "Nopal Labs",
    "timezone": "America/Mexico_City",
    "language": "es",
    "locale": "es-MX",
    "second_locale": "en-US",
    "second_share": 0.07,
    "country": "MX",
    "countries": ["MX", "MX", "MX", "MX", "MX", "US", "CO", "GT", "ES"],
    "website": "https://nopallabs.example",
    "tone": ("Profesional pero relajado, claro y sin tecnicismos innecesarios. Tuteamos. Explicamos el SAT sin "
             "miedo. Nunca prometemos fechas de lanzamiento en redes; los problemas técnicos se atienden en soporte."),
    "banned_words": ["fácil", "gratis", "garantizado", "hackeo"],
    "required_hashtags": ["#NopalLabs"],
    "signature": "— Soporte Nopal 🌵",
    "posts_per_week": 4,
    "interaction_weight": 3,
    "knowledge": [
        ("product", "Facturita", "Facturación electrónica CFDI 4.0 en la nube: timbrado, cancelación y complemento de "
         "pagos 2.0. Planes desde 1 hasta 50 usuarios.", "", "", ["cfdi", "factura", "timbrar"]),
        ("product", "Nopal POS", "Punto de venta para tiendas y restaurantes, con inventario y facturación integrada. "
         "Funciona sin internet y sincroniza después.", "", "", ["pos", "caja", "inventario"]),
        ("product", "Nopal Nómina", "Cálculo y timbrado de nómina, IMSS e INFONAVIT.", "", "", ["nómina", "imss"]),
        ("service", "Implementación", "Acompañamos la migración desde otro sistema en 2 semanas.", "Ventas",
         "ventas@nopallabs.example", ["migrar", "implementación"]),
        ("service", "Capacitación", "Webinars gratuitos cada martes y capacitación a medida para despachos.", "Customer success",
         "exito@nopallabs.example", ["curso", "webinar"]),
        ("faq", "Cancelar una factura", "Facturas > selecciona > Cancelar, elige el motivo 01-04. Si el receptor debe "
         "aceptar, verás el estado «en proceso».", "", "", ["cancelar", "motivo"]),
        ("faq", "Descargar XML", "Reportes > Descarga masiva; se genera un ZIP con XML y PDF.", "", "", ["xml", "descarga"]),
        ("department", "Soporte técnico", "Errores de timbrado, caídas y fallos: ticket en soporte.", "Soporte",
         "soporte@nopallabs.example", ["error", "falla", "timbrado"]),
        ("department", "Cobranza", "Cobros dobles, facturas de la suscripción y cambios de plan.", "Cobranza",
         "cobranza@nopallabs.example", ["cobro", "plan", "tarjeta"]),
        ("department", "Privacidad", "Solicitudes ARCO y datos personales.", "Privacidad", "privacidad@nopallabs.example",
         ["datos", "arco"]),
    ],
    "pillars": [("Tutoriales y consejos", 35, "#0f766e"), ("Novedades de producto", 25, "#7c3aed"),
                ("Casos de éxito", 20, "#ca8a04"), ("Fiscal al día", 10, "#dc2626"), ("Cultura y equipo", 10, "#2563eb")],
    "objectives": [
        ("Generar demos desde LinkedIn", [("web_visits", 24000), ("ctr", "1.8"), ("roi", 220),
                                          ("engagement_rate_followers", "2.5")]),
        ("Atender rápido en redes", [("response_time", 1), ("response_rate", 95), ("share_of_voice", 20),
                                     ("follower_growth", 15)]),
    ],
    "campaigns": [
        ("Declaración anual", "declaracion-anual", 3, 20, 45, 5200, 14800, "Fiscal al día", [
            "Se acerca la declaración anual 📅 Descarga tus XML del año en un clic con {product}: {link}",
            "Webinar este martes: declaración anual sin sustos, con nuestra contadora {expert} 🎙️ {link}",
        ]),
        ("Lanzamiento Nopal POS 3.0", "pos-3", 7, 8, 30, 8000, 26000, "Novedades de producto", [
            "Llegó Nopal POS 3.0 🚀 Inventario en tiempo real, modo sin internet y facturación desde la caja. {link}",
            "¿Restaurante? Nopal POS 3.0 ya divide cuentas y manda comandas a cocina 🍽️ {link}",
        ]),
        ("Buen Fin", "buen-fin", 11, 10, 10, 4500, 12500, "Novedades de producto", [
            "Buen Fin en Nopal 🌵 3 meses al precio de 2 en cualquier plan anual de {product}. {link}",
            "Último día de Buen Fin: el plan anual de {product} con 3 meses de regalo ⏰ {link}",
        ]),
    ],
    "accounts": [
        ("linkedin", "Nopal Labs", "Nopal Labs", "", 12800, 0.38),
        ("x", "nopallabs", "Nopal Labs 🌵", "", 9400, 0.05),
        ("facebook", "Nopal Labs", "Nopal Labs", "", 15600, 0.04),
        ("bluesky", "nopallabs.bsky.social", "Nopal Labs", "", 640, 1.10),
        ("wordpress", "blog.nopallabs.example", "Blog de Nopal Labs", "https://blog.nopallabs.example", 0, 0.0),
        ("instagram", "nopallabs", "Nopal Labs", "", 4100, 0.22),
    ],
    # This account's token expired a few days ago; it needs reconnecting.
    "expired_account": "facebook",
    "competitors": [
        ("Contalisto", "https://contalisto.example", [("linkedin", "Contalisto", 22000), ("x", "contalisto", 15300)]),
        ("Factura Rápida MX", "https://facturarapida.example", [("facebook", "Factura Rápida MX", 31000),
                                                                 ("instagram", "facturarapidamx", 8700)]),
    ],
    "links": ["https://nopallabs.example/facturita", "https://nopallabs.example/pos",
              "https://blog.nopallabs.example/cfdi-4-0-guia", "https://blog.nopallabs.example/complemento-de-pagos",
              "https://nopallabs.example/webinars", "https://nopallabs.example/precios"],
    "slots": {
        "product": ["Facturita", "Nopal POS", "Nopal Nómina", "Facturita", "Nopal POS"],
        # With their article: "la cancelación masiva", "el modo sin internet".
        "feature": ["el complemento de pagos 2.0", "la cancelación masiva", "la descarga masiva de XML",
                    "la carta porte", "la conciliación bancaria", "el modo sin internet", "el control multi-sucursal",
                    "el reporte de IVA"],
        "place": ["Guadalajara", "Monterrey", "Puebla", "Mérida", "Querétaro", "CDMX"],
        "city": ["CDMX", "Guadalajara", "Monterrey", "Puebla", "León"],
        "city_wish": ["Tijuana", "Hermosillo", "Cancún"],
        "friend": ["@ximena_cont", "@beto.pyme", "@lupita_fiscal", "@rodrigo_dev", "@karla.mx", "@memo_regio"],
        "customer": ["Taquería El Güero", "Ferretería Salinas", "Despacho Cruz & Asociados", "Panadería La Espiga",
                     "Farmacias Reyna", "Boutique Itzel", "Cafetería Tlaloc"],
        "expert": ["Paty Zamora", "Héctor Salinas"],
        "barista": ["Rafa", "Citlali", "Gerardo"],
        "dept": ["Soporte", "Cobranza", "Customer success"],
        "contact": ["soporte@nopallabs.example", "cobranza@nopallabs.example"],
        "agent": ["Diego", "Citlali", "Rafa"],
        "n": ["2", "3", "5", "8", "10", "15", "20"],
        "mins": ["20", "30", "45", "60"],
        "days": ["2", "3", "4", "6", "8"],
        "order": ["NL-20931", "NL-18842", "NL-33107", "NL-27764"],
        "hours": ["2", "3", "4", "6"],
    },
    "posts": {
        "Tutoriales y consejos": [
            "¿Cómo cancelar una factura con el motivo correcto? Te lo explicamos en 3 pasos 👇 {link}",
            "Tip del día: con {feature} en {product} te ahorras horas cada cierre de mes ⏱️",
            "5 errores al timbrar que puedes evitar hoy mismo 🧾 {link}",
            "¿Ya usas {feature}? Así se configura en {product} en menos de 5 minutos.",
            "Guía: cómo migrar tus clientes y productos a {product} sin perder nada 📦 {link}",
            "Atajo que nadie conoce: en {product}, Ctrl + K abre el buscador de todo 🔍",
        ],
        "Novedades de producto": [
            "Ya está aquí {feature} en {product} ✨ Disponible para todos los planes.",
            "Mejoramos la velocidad de timbrado un 40 % 🚀 Gracias por los reportes, ¡seguimos!",
            "Ya puedes conectar {product} con tu banco y conciliar pagos sin salir de la app 🏦",
            "Así se ve el nuevo panel de {product}. ¿Qué te parece? 👀",
        ],
        "Casos de éxito": [
            "{customer} pasó de facturar en 3 días a hacerlo al momento con {product} 🙌 Su historia: {link}",
            "«Ahora cierro el mes en una tarde» — {customer}, usuaria de {product} desde hace 2 años.",
            "Desde {place}, {customer} controla 3 sucursales con Nopal POS 🌵",
        ],
        "Fiscal al día": [
            "Recordatorio 📅 el día 17 vence el pago de impuestos del mes anterior.",
            "¿Qué cambia con CFDI 4.0? Resumen sin rollos para tu negocio 🧾 {link}",
            "Régimen Simplificado de Confianza: quién puede entrar y qué factura debe emitir {link}",
        ],
        "Cultura y equipo": [
            "Hoy celebramos 6 años de Nopal Labs 🎂 Gracias a cada cliente que nos eligió.",
            "Conoce a {agent}, de soporte: 1.200 tickets resueltos este año y contando 💪",
            "Estamos contratando: desarrolladoras y desarrolladores en {place} y remoto 🧑‍💻 {link}",
        ],
    },
    "texts": {
        "es": {
            "praise": [
                "Desde que usamos {product} la facturación ya no es un dolor de cabeza, gracias!! 🙌",
                "El soporte de Nopal me resolvió todo en {mins} minutos, qué chido",
                "{product} está bien padre, se lo recomiendo a todos los contadores",
                "Gracias {agent}, súper amable y paciente con mis dudas del CFDI 4.0",
                "{Feature} de {product} me salvó el cierre de mes {e_pos}",
                "Llevamos 2 años con {product} en el negocio y cero broncas",
                "Muy buen webinar el de ayer, aprendí un montón {e_pos}",
                "Por fin un sistema de facturación que entiendo a la primera",
            ],
            "question": [
                ("¿Facturita ya soporta el complemento de pagos 2.0?",
                 "¡Sí! Facturita emite el complemento de pagos 2.0 desde el menú Pagos 🧾"),
                ("Cómo cancelo una factura en Facturita? No encuentro la opción",
                 "Facturas > selecciona la factura > Cancelar y eliges el motivo. Si el receptor debe aceptar, verás «en proceso» 👍"),
                ("¿Tienen plan para {n} usuarios? ¿cuánto cuesta?",
                 "¡Claro! Los planes van de 1 a 50 usuarios. Escríbele a ventas@nopallabs.example y te cotizan 🙌"),
                ("Hola, ¿Nopal POS funciona en Mac o solo Windows?",
                 "Funciona en navegador, así que en Mac, Windows y tablets. La app de caja también está para Android 📱"),
                ("Buenas tardes, ¿cómo descargo el XML de mis facturas del mes pasado?",
                 "En Reportes > Descarga masiva eliges el periodo y te genera un ZIP con XML y PDF 📦"),
                ("¿Se puede integrar {product} con Shopify?", "Sí, desde Configuración > Integraciones. Tarda unos 5 minutos ⚡"),
                ("¿Nopal POS jala sin internet?", "¡Sí! Sigue vendiendo sin conexión y sincroniza cuando vuelve el internet 🌵"),
                ("¿Cuándo es el próximo webinar?", "Cada martes a las 11:00 (hora CDMX). Inscripción en nopallabs.example/webinars 🎙️"),
                ("¿Puedo timbrar nómina con Facturita o necesito otro producto?",
                 "Para nómina es Nopal Nómina; se conecta con Facturita con la misma cuenta 👍"),
            ],
            "complaint": [
                "Llevo {hours} horas sin poder timbrar en {product} y tengo clientes esperando 😡",
                "Me cobraron doble la mensualidad de {product}, ya mandé correo y nada",
                "La actualización de ayer rompió los reportes en {product}. Arreglen eso porfa",
                "El chat de soporte no contesta, {days} días esperando",
                "Se cae a cada rato {product}, así no se puede trabajar {e_neg}",
                "No me llegan los correos de las facturas a mis clientes, revisen",
                "Pésimo servicio, me cambiaron de plan sin avisar",
                "La app de Nopal POS se traba al cobrar con tarjeta {e_neg}",
            ],
            "request": [
                "Ojalá {product} tuviera modo oscuro 🙏",
                "Estaría bien que {product} exportara a Excel directo",
                "¿Pueden agregar pago con OXXO?",
                "Hagan un webinar sobre {feature} porfa",
                "Les faltaría app para iPhone de Nopal POS",
            ],
            "incident": [
                "¿Se cayó {product}? No puedo timbrar nada",
                "Nopal caído otra vez 🙄 error 500 al timbrar",
                "Alguien más sin servicio en {product}?? {e_neg}",
                "Llevamos toda la mañana sin poder facturar, den la cara",
                "Error al timbrar: «servicio no disponible». ¿Qué pasa?",
            ],
        },
        "en": {
            "praise": ["Great onboarding call today, thanks team! {e_pos}", "{product} just works. Our accountant is thrilled",
                       "Super responsive support, fixed in {mins} mins"],
            "question": [
                ("Does Facturita support invoices in USD?", "Hi! Yes, you can issue CFDI in USD with the exchange rate of the day 💵"),
                ("Is there an English version of the dashboard?", "Yes! Switch it under Profile > Language 🌎"),
                ("Can we integrate with QuickBooks?", "Yes, through our API or the Zapier connector. Docs at nopallabs.example 🔌"),
            ],
            "complaint": ["Been unable to stamp invoices for {hours} hours, this is hurting our business",
                          "Charged twice this month, please fix", "Support hasn't replied in {days} days"],
            "request": ["Please add a dark mode!", "Would love a native iOS app for the POS"],
            "incident": ["Is {product} down? Getting 500 errors", "Can't stamp anything right now, any update?"],
        },
    },
    "replies": {
        "es": {
            "praise": ["¡Gracias, {name}! Eso nos motiva un montón 🌵", "¡Qué gusto leerte! Seguimos mejorando {product} para ti",
                       "Se lo pasamos a {agent}, le va a encantar 🙌", "¡Gracias por la confianza! 💚"],
            "complaint": ["Hola {name}, lamentamos la molestia. ¿Nos mandas tu RFC por DM para revisarlo con {dept}?",
                          "Perdón por la espera. Ya escalamos tu caso a {dept}; te escriben hoy desde {contact}.",
                          "Entendemos la urgencia, {name}. Te escribimos por mensaje privado para darle seguimiento 🙏",
                          "Gracias por avisar. Ya lo están revisando en {dept}; en cuanto haya novedad te contamos."],
            "request": ["¡Gracias por la idea! La pasamos al equipo de producto 📝", "Anotada, {name}. ¡Nos encanta que nos propongan cosas!"],
            "other": ["🌵", "¡Gracias! 🙌", "¡Ahí nos vemos!"],
            "troll": ["Lamentamos tu experiencia. Si nos cuentas qué pasó por DM, con gusto lo revisamos."],
            "resolve": ["Listo, {name}: ya quedó el reembolso del cobro doble, se refleja en 3-5 días hábiles.",
                        "Ya quedó corregido, {name}. Gracias por la paciencia 🙏",
                        "Tu cuenta ya timbra con normalidad. Cualquier cosa aquí estamos 🌵"],
            "ask_details": ["¿Nos compartes por DM tu RFC y el folio de la factura, {name}?",
                            "Para revisarlo necesitamos el correo de tu cuenta, ¿nos lo mandas por privado?"],
            "incident": ["Estamos al tanto de una falla en el timbrado. El equipo ya trabaja en ello; actualizamos en status.nopallabs.example 🙏",
                         "Ya quedó restablecido el servicio de timbrado. Una disculpa por las molestias, {name}."],
        },
        "en": {
            "praise": ["Thanks so much, {name}! 🌵", "Glad it helps! Thanks for the kind words"],
            "complaint": ["Sorry about this, {name}. Could you DM us your account email so {dept} can check?"],
            "request": ["Great idea, we've passed it to the product team 📝"],
            "other": ["🙌"],
            "troll": ["Sorry to hear that. DM us the details and we'll take a look."],
            "resolve": ["All fixed, {name}. Thanks for your patience 🙏"],
            "ask_details": ["Could you DM us your account email, {name}?"],
            "incident": ["We're aware of an issue with invoice stamping and working on it. Updates at status.nopallabs.example"],
        },
    },
    "incident_day_ago": 131,
}

BOOKS = {
    "key": "books",
    "name": "Quill & Lantern Books",
    "timezone": "Europe/London",
    "language": "en",
    "locale": "en-GB",
    "second_locale": "es-ES",
    "second_share": 0.08,
    "country": "GB",
    "countries": ["GB", "GB", "GB", "GB", "IE", "US", "ES", "FR", "DE", "NL"],
    "website": "https://quillandlantern.example",
    "tone": ("Warm, bookish and a little witty, never snobbish. British spelling. We recommend books like a friend "
             "would. Problems with orders go to DM; we never argue about prices in public."),
    "banned_words": ["cheap", "literally", "Amazon", "bargain bin"],
    "required_hashtags": ["#QuillAndLantern"],
    "signature": "— Q&L",
    "posts_per_week": 5,
    "interaction_weight": 3,
    "knowledge": [
        ("product", "Lantern Box", "Monthly book subscription: one hardback chosen by our booksellers, a tea and a "
         "handwritten note. £24/month, UK and Ireland shipping.", "", "", ["subscription", "box", "monthly"]),
        ("product", "Signed editions", "Signed first editions from our events; limited stock, online only after the event.",
         "", "", ["signed", "first edition"]),
        ("product", "Gift cards", "Usable in the shop and online; valid for 3 years.", "", "", ["gift card", "voucher"]),
        ("service", "Book club", "First Thursday of the month, 7pm, upstairs. Free, just bring the book.", "Events",
         "events@quillandlantern.example", ["book club", "thursday"]),
        ("service", "Author events", "Tickets £8, redeemable against the book on the night.", "Events",
         "events@quillandlantern.example", ["event", "tickets", "author"]),
        ("faq", "Delivery", "UK 2-4 working days; Ireland 4-6; EU 7-10 (duties may apply). Tracking by e-mail.", "", "",
         ["delivery", "shipping", "arrive"]),
        ("faq", "Opening hours", "Mon-Sat 9:30-19:00, Sun 11:00-17:00.", "", "", ["open", "hours"]),
        ("department", "Orders and delivery", "Missing or damaged parcels, refunds.", "Orders",
         "orders@quillandlantern.example", ["order", "refund", "parcel"]),
        ("department", "Events", "Tickets, signed copies, school visits.", "Events", "events@quillandlantern.example",
         ["event", "tickets"]),
        ("department", "Press", "Journalists and publishers.", "Press", "press@quillandlantern.example", ["press"]),
    ],
    "pillars": [("Book recommendations", 40, "#7c2d12"), ("Events & author visits", 25, "#4338ca"),
                ("Behind the shelves", 20, "#047857"), ("Offers & Lantern Box", 15, "#be185d")],
    "objectives": [
        ("Grow Lantern Box subscriptions", [("web_visits", 15000), ("ctr", "1.5"), ("roi", 180),
                                            ("engagement_rate_reach", "5")]),
        ("A community that talks back", [("follower_growth", 20), ("response_rate", 90), ("response_time", 3),
                                         ("share_of_voice", 35)]),
    ],
    "campaigns": [
        ("World Book Day", "world-book-day", 3, 1, 7, 900, 3100, "Book recommendations", [
            "Happy World Book Day 📚 Tell us the book that made you a reader and we'll recommend your next one.",
            "World Book Day tokens welcome all week in the shop, plus a free bookmark for every young reader 🔖",
        ]),
        ("Independent Bookshop Week", "indie-bookshop-week", 6, 14, 8, 1200, 4200, "Behind the shelves", [
            "It's Independent Bookshop Week! Every purchase this week comes with a hand-picked surprise 🎁",
            "Why shop indie? Because a person, not an algorithm, chose the books on our front table 💛",
        ]),
        ("Christmas Gift Guide", "christmas-gift-guide", 11, 20, 36, 2600, 11800, "Offers & Lantern Box", [
            "Our Christmas gift guide is here 🎄 Books for the uncle who 'doesn't read', the teen who reads everything, "
            "and everyone in between: {link}",
            "Last UK posting date for Christmas is the 18th 📦 Order a Lantern Box gift today: {link}",
            "Gift wrapping is free all December, and yes, we do the fiddly ribbons 🎀",
        ]),
    ],
    "accounts": [
        ("instagram", "quillandlantern", "Quill & Lantern", "", 21500, 0.27),
        ("bluesky", "quillandlantern.bsky.social", "Quill & Lantern Books", "", 3900, 0.85),
        ("mastodon", "@quillandlantern@mastodon.social", "Quill & Lantern", "https://mastodon.social", 2100, 0.35),
        ("threads", "quillandlantern", "Quill & Lantern", "", 5200, 0.40),
    ],
    "competitors": [
        ("Pagewise Books", "https://pagewise.example", [("instagram", "pagewisebooks", 34000),
                                                        ("bluesky", "pagewise.bsky.social", 5100)]),
        ("The Reading Room", "https://readingroom.example", [("instagram", "thereadingroomldn", 12800),
                                                             ("threads", "thereadingroomldn", 3300)]),
    ],
    "links": ["https://quillandlantern.example/lantern-box", "https://quillandlantern.example/events",
              "https://quillandlantern.example/signed", "https://quillandlantern.example/gift-cards",
              "https://quillandlantern.example/blog/staff-picks"],
    "slots": {
        "product": ["Lantern Box", "signed first edition", "gift card", "tote bag", "poetry box", "kids' Lantern Box"],
        "book": ["The Salt Orchard", "A Map of Small Hours", "Nine Lanterns", "The Quiet Ferry", "Glasshouse Weather",
                 "Letters from Dunmore", "The Last Cartographer", "Moth Season"],
        "author": ["Mara Penhallow", "Tobias Reed", "Ayesha Malik", "Ciarán Doyle", "Helen Marsh", "Kofi Mensah"],
        "genre": ["crime", "translated fiction", "poetry", "nature writing", "historical fiction", "sci-fi", "memoir"],
        "place": ["the shop", "Camden", "our upstairs room", "the window display"],
        "city": ["London", "Camden"],
        "city_wish": ["Bristol", "Leeds", "Edinburgh", "Manchester"],
        "friend": ["@beth_reads", "@tomwalker", "@niamh.k", "@priya_shelves", "@callum_j", "@zarabooks"],
        "bookseller": ["Fiona", "Ravi", "Hamish", "Ellie"],
        "dept": ["Orders", "Events"],
        "contact": ["orders@quillandlantern.example", "events@quillandlantern.example"],
        "agent": ["Emma", "Ravi"],
        "n": ["2", "3", "4", "5", "6"],
        "mins": ["20", "30", "40"],
        "days": ["5", "7", "9", "12", "14"],
        "order": ["QL-10482", "QL-11937", "QL-09921", "QL-12650"],
    },
    "posts": {
        "Book recommendations": [
            "If you loved {book2}, meet {book} by {author}: {genre} at its most tender 📚",
            "{bookseller}'s pick this week: {book}. 'Read it in one sitting, cancelled plans for it.'",
            "Three {genre} books for a rainy weekend: {book}, {book2} and an old favourite 🌧️",
            "The book everyone's asking about: {book} by {author}. Back in stock today ✨",
            "Staff picks are up 📖 {link}",
            "Tell us the last book that made you cry and we'll recommend one that won't (promise) 👇",
        ],
        "Events & author visits": [
            "Tonight at 7pm: {author} in conversation about {book} 🎙️ A few tickets left: {link}",
            "Book club this Thursday: we're reading {book}. All welcome, biscuits provided 🍪",
            "Signed copies of {book} from last night's event are now online (while they last) ✍️ {link}",
            "Save the date: {author} comes to {place} next month to launch {book} 🗓️",
        ],
        "Behind the shelves": [
            "Unboxing day 📦 Guess how many boxes of {genre} arrived this morning?",
            "Meet {bookseller}, who has read every {genre} novel on our shelves (we checked).",
            "The window display took four hours and a lot of string. Worth it? 🪟",
            "Our shop cat has claimed the {genre} table again. We're letting it happen 🐈",
            "A quiet Sunday, a pot of tea and a shop full of readers. This is the job 💛",
        ],
        "Offers & Lantern Box": [
            "This month's Lantern Box is wrapped and ready: one hardback, one tea, one handwritten note 🏮 {link}",
            "Gift a Lantern Box: three, six or twelve months of books chosen by people who love them {link}",
            "Free UK delivery this weekend on orders over £25 📦",
            "Gift cards never go out of fashion (and they're valid for 3 years) 🎁 {link}",
        ],
    },
    "texts": {
        "en": {
            "praise": [
                "Popped into the shop today and left with three books I didn't need. No regrets 📚",
                "The {product} this month was an absolute treat, thank you! {e_pos}",
                "Best independent bookshop in London, and the staff recommendations are spot on",
                "Loved the author event last night, {author} was brilliant 👏",
                "{bookseller} recommended {book} and I haven't slept. Thanks, I think? {e_laugh}",
                "My {product} arrived beautifully wrapped, the little note made my day {e_pos}",
                "This shop is my happy place. That's it, that's the post 💛",
                "Finished {book} on the train and missed my stop. 10/10",
            ],
            "question": [
                ("Do you ship the Lantern Box to Ireland?", "Hi! Yes, we ship to the UK and Ireland 📦 Ireland takes 4-6 days."),
                ("Is the signed copy of {book} still available?",
                 "We've a handful left online, but they go fast! quillandlantern.example/signed ✍️"),
                ("What time does the book club meet on Thursday?",
                 "7pm upstairs, first Thursday of the month. Free, just bring the book 🍪"),
                ("Can I use my gift card online or only in the shop?", "Both! And they're valid for 3 years 🎁"),
                ("Hi! Are tickets for the {author} event still available?",
                 "A few left! Tickets are £8 and count towards the book on the night 🎙️"),
                ("What are your opening hours on Sunday?", "Sundays 11 till 5 ☕📚"),
                ("Do you do school visits?", "We do! Drop a line to events@quillandlantern.example and we'll sort it 🏫"),
                ("Any recommendations for a 12 year old who loves {genre}?",
                 "Ooh, lots! Pop in and ask Ellie, or DM us a couple of favourites and we'll suggest some 📚"),
            ],
            "complaint": [
                "My {product} still hasn't arrived, it's been {days} days {e_sad}",
                "Ordered a signed edition and got an unsigned one. Pretty disappointed.",
                "Event started 40 mins late and nobody said anything. Not on.",
                "Charged twice for my order {order}, can someone sort this?",
                "The book arrived with a crushed corner, for a gift too {e_neg}",
                "Emailed about my order {days} days ago, still no reply",
                "Lantern Box price went up and I wasn't told, not impressed",
            ],
            "request": [
                "Please stock more translated fiction!",
                "Could you do a kids' story time on Saturdays?",
                "Would love a poetry version of the Lantern Box",
                "Any chance of an evening opening before Christmas?",
                "Can you bring {author} back for another event pleeease",
            ],
            "incident": [],
        },
        "es": {
            "praise": ["Qué librería más bonita, estuve en mi viaje a Londres y me encantó {e_pos}",
                       "Mi pedido llegó perfecto a Madrid, gracias!!", "La mejor librería de Londres, sin duda 📚"],
            "question": [
                ("¿Hacéis envíos a España?", "¡Hola! Sí, enviamos a la UE en 7-10 días (puede haber aduanas) 📦"),
                ("¿Tenéis libros en español?", "Tenemos una pequeña sección en español y podemos pedir lo que busques 📚"),
            ],
            "complaint": ["Mi pedido {order} no llega a Barcelona, ya van {days} días {e_sad}",
                          "Me han cobrado aduanas que nadie me avisó {e_neg}"],
            "request": ["Poned más libros en español porfa!"],
            "incident": [],
        },
    },
    "replies": {
        "en": {
            "praise": ["Thank you, {name}! This made our day 💛", "So glad you enjoyed it! Happy reading 📚",
                       "We'll tell {bookseller}, they'll be thrilled {e_pos}", "Thank you! See you in the shop soon 🏮"],
            "complaint": ["So sorry, {name}. Could you DM us your order number? We'll sort it today 🙏",
                          "That's not the experience we want for you. {dept} will be in touch from {contact}.",
                          "Apologies! We've passed this to {dept} and they'll get back to you today."],
            "request": ["Love this idea, {name}! We'll take it to the next team meeting 📝", "Noted, thank you! 💛"],
            "other": ["📚", "💛", "Ha, we approve {e_pos}"],
            "troll": ["Sorry you feel that way. If something went wrong, we'd genuinely like to hear about it."],
            "resolve": ["All sorted, {name}: a replacement is on its way and you'll have tracking by e-mail today 📦",
                        "Refund done, {name}. You'll see it in 3-5 working days. Sorry again!"],
            "ask_details": ["Could you send us your order number by DM, {name}?"],
        },
        "es": {
            "praise": ["¡Muchas gracias, {name}! Vuelve cuando quieras 💛"],
            "complaint": ["Lo sentimos, {name}. ¿Nos mandas el número de pedido por DM? Lo revisamos hoy 🙏"],
            "request": ["¡Gracias por la idea! Tomamos nota 📝"],
            "other": ["💛"],
            "troll": ["Sentimos que pienses así."],
            "resolve": ["Todo resuelto, {name}: el reembolso sale hoy. ¡Perdona las molestias!"],
            "ask_details": ["¿Nos pasas el número de pedido por DM, {name}?"],
        },
    },
}

BRANDS = [CAFE, SOFT, BOOKS]


# The weeks ahead, per language: posting slots, weekly themes, key dates, ideas (status, title,
# notes) and a reviewer's comment on a post waiting for approval.
PLANNING = {
    "es": {
        "slots": ["09:00", "13:30", "19:00"],
        "themes": ["Temporada de otoño", "Detrás de la barra", "Origen del producto", "Ofertas de fin de mes"],
        "key_dates": [(11, 27, "Black Friday"), (12, 24, "Nochebuena"), (12, 31, "Nochevieja"),
                      (1, 6, "Reyes"), (2, 14, "San Valentín"), (3, 8, "Día de la Mujer")],
        "ideas": [
            ("idea", "Encuesta: ¿qué sabor echáis de menos?", "Para stories; luego un post con los resultados."),
            ("idea", "Hilo con las preguntas más repetidas del mes", "Sacarlas del buzón y de la base de conocimiento."),
            ("writing", "Vídeo corto del equipo preparando la apertura", "Grabar el martes a primera hora."),
            ("writing", "Carrusel: 5 cosas que no sabías de nuestro proveedor", "Pedir fotos al proveedor."),
            ("ready", "Reseña de una clienta con su permiso", "Texto aprobado por ella; falta la foto."),
        ],
        "comment": "@%(user)s ¿podemos cambiar la foto por una con más luz? El texto me encaja.",
    },
    "en": {
        "slots": ["08:30", "12:30", "18:30"],
        "themes": ["Autumn reads", "Behind the counter", "Meet the authors", "Gift guide"],
        "key_dates": [(11, 27, "Black Friday"), (12, 25, "Christmas Day"), (12, 26, "Boxing Day"),
                      (1, 1, "New Year's Day"), (2, 14, "Valentine's Day"), (3, 6, "World Book Day")],
        "ideas": [
            ("idea", "Poll: which genre should our next book club read?", "Stories first, then a post with the result."),
            ("idea", "Thread: the questions customers asked most this month", "Take them from the inbox."),
            ("writing", "Short video: unboxing the new arrivals", "Film on Tuesday before opening."),
            ("writing", "Carousel: five staff picks under £10", "Ask each bookseller for one line."),
            ("ready", "A customer's review, shared with permission", "Text approved by her; photo to come."),
        ],
        "comment": "@%(user)s could we use a brighter photo? The text works for me.",
    },
}

# The inbox's saved replies, in both languages: (title, {language: text}).
SAVED_REPLIES = [
    ({"es": "Gracias", "en": "Thank you"},
     {"es": "¡Muchas gracias, {name}! Nos alegra mucho leerte. Un abrazo del equipo de {brand}.",
      "en": "Thank you so much, {name}! It made our day. All the best from the {brand} team."}),
    ({"es": "Lo sentimos: por privado", "en": "Sorry: let's talk in private"},
     {"es": "Hola {name}, sentimos mucho lo ocurrido. ¿Nos escribes por mensaje privado con tu número de "
            "pedido? Lo revisamos hoy mismo. {agent}",
      "en": "Hi {name}, we are really sorry about this. Could you send us a direct message with your order "
            "number? We will look into it today. {agent}"}),
    ({"es": "Lo consultamos", "en": "We are checking"},
     {"es": "¡Buena pregunta, {name}! Lo consultamos con el equipo y te respondemos aquí en cuanto lo sepamos.",
      "en": "Good question, {name}! We are checking with the team and will answer here as soon as we know."}),
]
# Labels every demo brand starts with.
LABELS = {"es": ["vip", "incidencia", "prensa"], "en": ["vip", "incident", "press"]}


# --- Listening: what people say about the brands, their competitors and their sector ----------------

SECTOR_QUERIES = {
    "cafe": '(café OR cafetería) NEAR/3 (especialidad OR tostado*) OR #cafedeespecialidad OR barista*',
    "soft": '(software OR app) NEAR/3 (facturación OR pymes OR inventario) OR #SaaS',
    "books": '"independent bookshop" OR bookshop* OR #booktok OR "book club"',
}
SECTOR_WORDS = {"cafe": "el café de especialidad", "soft": "el software de facturación para pymes",
                "books": "the independent bookshop"}
LISTENING = {
    "es": {
        "positive": ["Hoy he probado {name} y me ha encantado 😍", "Recomiendo {name} sin dudarlo, trato de diez",
                     "Qué buena experiencia con {name}, volveré", "{name} ha mejorado muchísimo, enhorabuena"],
        "neutral": ["¿Alguien sabe a qué hora abre {name} los domingos?", "He leído una noticia sobre {name}",
                    "Comparando opciones: {name} y otras dos", "Mañana tengo reunión sobre {name}"],
        "negative": ["Pésima atención en {name}, nadie responde", "{name} me ha cobrado dos veces, quiero el reembolso",
                     "Muy decepcionado con {name}, no vuelvo", "Otra vez tarde y mal, {name}. Qué desastre"],
        "competitor_posts": ["Novedades de temporada en {name} ☕", "{name}: sorteo de aniversario esta semana",
                             "Así trabajamos en {name}, detrás de las cámaras", "Nuevo horario de {name}"],
        "people": ["lucia", "mario", "carmen", "javi", "nuria", "pablo", "elena", "sergio"],
        "sites": ["diariolocal.example", "blogdecafe.example", "noticias.example"],
        "feed": "Noticias del sector", "feed_url": "https://noticias.example/rss.xml",
    },
    "en": {
        "positive": ["Just tried {name} and loved it 😍", "Can't recommend {name} enough, lovely staff",
                     "Great experience with {name}, will be back", "{name} keeps getting better"],
        "neutral": ["Does anyone know when {name} opens on Sundays?", "Read an article about {name} today",
                    "Comparing {name} with two others", "Meeting about {name} tomorrow"],
        "negative": ["Terrible service at {name}, nobody answers", "{name} charged me twice, I want a refund",
                     "Really disappointed with {name}, never again", "Late again, {name}. What a mess"],
        "competitor_posts": ["New this season at {name}", "{name}: anniversary giveaway this week",
                             "Behind the scenes at {name}", "New opening hours at {name}"],
        "people": ["olivia", "harry", "amelia", "jack", "isla", "george", "ava", "noah"],
        "sites": ["localnews.example", "bookblog.example", "citypaper.example"],
        "feed": "Sector news", "feed_url": "https://citypaper.example/feed.xml",
    },
}
