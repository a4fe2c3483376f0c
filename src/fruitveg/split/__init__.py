"""split"""
