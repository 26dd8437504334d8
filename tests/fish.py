"""The reference fish ontology's class and question ids, as tests unpack them."""


def ids(ontology):
    orange, blue, water = (c.feature_schema_id for c in ontology.classes)
    blurry, fins = ontology.classes[0].questions
    return orange, blue, water, blurry, fins
